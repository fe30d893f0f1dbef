#ifndef SAE_SIGNALS_H
#define SAE_SIGNALS_H

/* What a stop signal (SIGINT, SIGTERM, SIGHUP) does to sae, from the handler, with only
 * async-signal-safe calls: while a training loop polls (`sae_signals_set_polled(1)`) it records
 * the signal for the loop to stop at the next step; otherwise it removes the temporary files of
 * writes in progress and ends the process with 128 + the signal, as the default action would
 * report it, so that nothing half-written is left. A signal the process inherited as ignored
 * (`nohup`, a background job of a script) stays ignored. */

/* Installs the handler for SIGINT, SIGTERM and SIGHUP (those not inherited as ignored). */
void sae_signals_install(void);
/* Whether a training loop polls for the signal (1) or it ends the process (0). */
void sae_signals_set_polled(int polled);
/* The signal that asked a training loop to stop (0: none). */
int sae_signals_received(void);
/* Temporary files being written: removed if a signal ends the process. A slot index, or -1
 * when all slots are taken (the file is then left to the run directory's own cleanup). */
int sae_signals_register(const char *path);
void sae_signals_unregister(int slot);
/* Removes the registered files and ends the process with `status` (from the handler, or when a
 * loop stops polling with a signal pending). */
void sae_signals_exit(int status);

#endif
