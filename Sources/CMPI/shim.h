// OpenMPI's C interface (Debian libopenmpi-dev).
//
// Debian installs mpi.h under /usr/lib/<triple>/openmpi/include and links it, through the
// mpi alternative, as /usr/include/<triple>/mpi — a directory the compiler already
// searches, so the module needs no -I flag.
#ifndef COLONY_CMPI_SHIM_H
#define COLONY_CMPI_SHIM_H

#include <mpi/mpi.h>

// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM and friends are macros that take the address of
// OpenMPI's predefined objects, whose struct types are incomplete: Swift imports neither
// the macros nor the objects, so these functions hand the handles over.

static inline MPI_Comm colony_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype colony_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype colony_mpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Op colony_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op colony_mpi_op_null(void) { return MPI_OP_NULL; }
static inline MPI_Errhandler colony_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *colony_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Comm colony_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Request colony_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *colony_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int colony_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline int colony_mpi_any_source(void) { return MPI_ANY_SOURCE; }

#endif
