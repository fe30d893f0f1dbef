// Open MPI, opened at run time (see sae_mpi.h). The handles below are Open MPI's ABI (mpi.h of
// Open MPI 4 and 5: MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT &ompi_mpi_float, ...);
// libmpi.so.40 is the soname of both.
#include "sae_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *MPI_Comm;
typedef void *MPI_Datatype;
typedef void *MPI_Op;
typedef void *MPI_Errhandler;
#define SAE_MPI_IN_PLACE ((void *)1)
#define SAE_MPI_THREAD_FUNNELED 1

static struct {
    void *library;
    int (*init_thread)(int *, char ***, int, int *);
    int (*initialized)(int *);
    int (*finalized)(int *);
    int (*comm_rank)(MPI_Comm, int *);
    int (*comm_size)(MPI_Comm, int *);
    int (*comm_set_errhandler)(MPI_Comm, MPI_Errhandler);
    int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
    int (*barrier)(MPI_Comm);
    int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
    int (*allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
    int (*error_string)(int, char *, int *);
    int (*finalize)(void);
    int (*abort)(MPI_Comm, int);
    int (*get_library_version)(char *, int *);
    MPI_Comm world;
    MPI_Datatype float_type, double_type, byte_type;
    MPI_Op ops[3];
    MPI_Errhandler errors_return;
} mpi;

int sae_mpi_load(const char *path, char *error, size_t error_size) {
    if (mpi.library) return 0;
    // RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve libmpi's symbols through the global scope.
    void *library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, error_size, "%s", dlerror());
        return -1;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"MPI_Init_thread", (void **)&mpi.init_thread},
        {"MPI_Initialized", (void **)&mpi.initialized},
        {"MPI_Finalized", (void **)&mpi.finalized},
        {"MPI_Comm_rank", (void **)&mpi.comm_rank},
        {"MPI_Comm_size", (void **)&mpi.comm_size},
        {"MPI_Comm_set_errhandler", (void **)&mpi.comm_set_errhandler},
        {"MPI_Allreduce", (void **)&mpi.allreduce},
        {"MPI_Barrier", (void **)&mpi.barrier},
        {"MPI_Bcast", (void **)&mpi.bcast},
        {"MPI_Allgather", (void **)&mpi.allgather},
        {"MPI_Error_string", (void **)&mpi.error_string},
        {"MPI_Finalize", (void **)&mpi.finalize},
        {"MPI_Abort", (void **)&mpi.abort},
        {"MPI_Get_library_version", (void **)&mpi.get_library_version},
        {"ompi_mpi_comm_world", &mpi.world},
        {"ompi_mpi_float", &mpi.float_type},
        {"ompi_mpi_double", &mpi.double_type},
        {"ompi_mpi_byte", &mpi.byte_type},
        {"ompi_mpi_op_sum", &mpi.ops[SAE_MPI_SUM]},
        {"ompi_mpi_op_max", &mpi.ops[SAE_MPI_MAX]},
        {"ompi_mpi_op_min", &mpi.ops[SAE_MPI_MIN]},
        {"ompi_mpi_errors_return", &mpi.errors_return},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        void *address = dlsym(library, symbols[i].name);
        if (!address) {
            snprintf(error, error_size, "%s has no symbol %s (not Open MPI 4 or 5?)", path, symbols[i].name);
            dlclose(library);
            memset(&mpi, 0, sizeof mpi);
            return -1;
        }
        *symbols[i].slot = address;
    }
    mpi.library = library;
    return 0;
}

int sae_mpi_init(int *rank, int *size) {
    if (!mpi.library) return -1;
    int provided = 0, code = mpi.init_thread(NULL, NULL, SAE_MPI_THREAD_FUNNELED, &provided);
    if (code != 0) return code;
    if ((code = mpi.comm_set_errhandler(mpi.world, mpi.errors_return)) != 0) return code;
    if ((code = mpi.comm_rank(mpi.world, rank)) != 0) return code;
    return mpi.comm_size(mpi.world, size);
}

static int allreduce(void *buffer, long count, size_t width, MPI_Datatype type, int op) {
    if (!mpi.library) return -1;
    if (op < 0 || op > 2) return -1;
    const long chunk = 1L << 30;
    for (long done = 0; done < count; done += chunk) {
        long n = count - done < chunk ? count - done : chunk;
        int code = mpi.allreduce(SAE_MPI_IN_PLACE, (char *)buffer + done * width, (int)n, type, mpi.ops[op], mpi.world);
        if (code != 0) return code;
    }
    return 0;
}

int sae_mpi_allreduce_float(float *buffer, long count, int op) {
    return allreduce(buffer, count, sizeof(float), mpi.float_type, op);
}

int sae_mpi_allreduce_double(double *buffer, long count, int op) {
    return allreduce(buffer, count, sizeof(double), mpi.double_type, op);
}

int sae_mpi_barrier(void) { return mpi.library ? mpi.barrier(mpi.world) : -1; }

int sae_mpi_bcast_bytes(void *buffer, long count) {
    if (!mpi.library) return -1;
    const long chunk = 1L << 30;
    for (long done = 0; done < count; done += chunk) {
        long n = count - done < chunk ? count - done : chunk;
        int code = mpi.bcast((char *)buffer + done, (int)n, mpi.byte_type, 0, mpi.world);
        if (code != 0) return code;
    }
    return 0;
}

int sae_mpi_allgather_bytes(const void *send, void *receive, long count) {
    if (!mpi.library) return -1;
    if (count < 0 || count > 0x7fffffffL) return -1;
    return mpi.allgather(send, (int)count, mpi.byte_type, receive, (int)count, mpi.byte_type, mpi.world);
}

void sae_mpi_error_string(int code, char *out, int size) {
    if (size <= 0) return;
    out[0] = 0;
    if (!mpi.library || code < 0) {
        snprintf(out, (size_t)size, "MPI is not loaded");
        return;
    }
    char text[1024];
    int length = 0;
    if (mpi.error_string(code, text, &length) == 0) snprintf(out, (size_t)size, "%.*s", length, text);
    else snprintf(out, (size_t)size, "MPI error %d", code);
}

int sae_mpi_finalize(void) {
    if (!mpi.library) return -1;
    int done = 0;
    mpi.finalized(&done);
    return done ? 0 : mpi.finalize();
}

void sae_mpi_abort(int code) {
    if (mpi.library) mpi.abort(mpi.world, code);
}

void sae_mpi_library_version(char *out, int size) {
    if (size <= 0) return;
    out[0] = 0;
    if (!mpi.library) return;
    char text[8192];
    int length = 0;
    if (mpi.get_library_version(text, &length) == 0) {
        // The first line only ("Open MPI v4.1.4, package: ...").
        int end = 0;
        while (end < length && text[end] != '\n' && text[end] != ',') end++;
        snprintf(out, (size_t)size, "%.*s", end, text);
    }
}
