// Stop signals and the temporary files they must not leave behind (see sae_signals.h).
#include "sae_signals.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 32

static volatile sig_atomic_t polled = 0, received = 0;
static char paths[SLOTS][PATH_MAX];
static volatile sig_atomic_t used[SLOTS];

void sae_signals_exit(int status) {
    for (int i = 0; i < SLOTS; i++)
        if (used[i]) unlink(paths[i]);
    _exit(status);
}

static void handle(int signal_number) {
    if (polled) {
        // The loop stops at its next step; a second signal ends the process as usual.
        received = signal_number;
        struct sigaction action = {0};
        action.sa_handler = SIG_DFL;
        sigaction(signal_number, &action, 0);
        return;
    }
    sae_signals_exit(128 + signal_number);
}

void sae_signals_install(void) {
    int stops[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        struct sigaction old;
        if (sigaction(stops[i], 0, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        struct sigaction action = {0};
        action.sa_handler = handle;
        sigemptyset(&action.sa_mask);
        sigaction(stops[i], &action, 0);
    }
}

void sae_signals_set_polled(int value) {
    polled = value;
    if (!value && received) sae_signals_exit(128 + received);
}

int sae_signals_received(void) { return received; }

int sae_signals_register(const char *path) {
    if (strlen(path) >= PATH_MAX) return -1;
    for (int i = 0; i < SLOTS; i++) {
        if (used[i]) continue;
        strcpy(paths[i], path);
        used[i] = 1;
        return i;
    }
    return -1;
}

void sae_signals_unregister(int slot) {
    if (slot >= 0 && slot < SLOTS) used[slot] = 0;
}
