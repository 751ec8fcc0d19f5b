/*
 * PETSc's side of the time-to-solution comparison in scripts/benchmarks: the same problem that
 * `halo solve --problem poisson --manufactured polyexp` solves, solved with PETSc's KSP.
 *
 *   -lap(u) = f on the unit square, u = 0 on the walls,
 *   u = x(1-x) y(1-y) e^x,  so  f = x e^x ((3+x) y(1-y) + 2(1-x)),
 *
 * 5-point finite differences on NX x NY interior unknowns, vertex-centred: hx = 1/(NX+1), interior
 * node (i,j) (0-based) at x = (i+1) hx, y = (j+1) hy; the walls are not unknowns.
 *
 * PETSc's geometric multigrid coarsens a DMDA of M points to (M-1)/2+1 points, which works when
 * the walls are points of the DMDA: the DMDA here has (NX+2) x (NY+2) points, the wall points are
 * identity rows (scaled like the interior diagonal) with a zero right-hand side, and the interior
 * rows leave the wall columns out (their values are zero), so the matrix stays symmetric for CG.
 * NX = NY = 2^k - 1 coarsens all the way (1023: 1025 -> 513 -> ... -> 5 points). The walls add
 * 2(NX+NY)+4 trivial rows; the residual below is that of the whole system, which on the wall rows
 * is that of x = 0 = b there.
 *
 * The solver comes from the options (KSPSetFromOptions), for example
 *   -ksp_type cg -pc_type mg -pc_mg_levels 9 -pc_mg_galerkin both
 *   -ksp_type cg -pc_type hypre -pc_hypre_type boomeramg
 *   -ksp_type cg -pc_type gamg
 * Own options: -nx N -ny N (default 1023 each). Defaults set here, each overridden by its option:
 * -ksp_rtol 1e-8 on the true residual (-ksp_norm_type unpreconditioned, so the stopping test is
 * ||b - A x|| <= rtol ||b|| with the zero initial guess, the same quantity as relative_residual);
 * with -pc_type mg, -pc_mg_galerkin both (coarse operators R A P: this program gives the DMDA no
 * way to rediscretise) and -pc_mg_levels as many as coarsen to at least 3 x 3 interior points.
 *
 * Timed (wall clock, MPI_Wtime between barriers, the slowest rank): from just before the DMDA is
 * created to just after KSPSolve returns, that is creating the DMDA, allocating and assembling the
 * matrix, the right-hand side and the solution vector, KSPSetFromOptions, KSPSetUp (all of the
 * preconditioner's setup: hierarchy, Galerkin products, smoother eigenvalue estimates, AMG setup)
 * and KSPSolve. setup_seconds is the part before KSPSolve. Not timed: PetscInitialize, and the
 * error and true residual computed after the solve.
 *
 * Prints one JSON line on rank 0, for example
 *   {"solver":"petsc","ksp":"cg","pc":"mg","nx":1023,"ny":1023,"ranks":2,"iters":5,
 *    "seconds":1.23,"setup_seconds":0.4,"relative_residual":5e-9,"error":3e-8,...}
 * and exits 1 when the solver did not converge (after printing the line), 2 on a bad option.
 *
 * Build (scripts/benchmarks does this):
 *   mpicc -O2 benches/petsc/poisson.c -o target/petsc/poisson $(pkg-config --cflags --libs PETSc) -lm
 */
#include <math.h>
#include <string.h>
#include <petscdmda.h>
#include <petscksp.h>

static PetscReal exact(PetscReal x, PetscReal y) { return x * (1 - x) * y * (1 - y) * PetscExpReal(x); }

static PetscReal source(PetscReal x, PetscReal y)
{
  return x * PetscExpReal(x) * ((3 + x) * y * (1 - y) + 2 * (1 - x));
}

/* Sets NAME to VALUE in the options database unless the command line set it. */
static PetscErrorCode default_option(const char *name, const char *value)
{
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(NULL, NULL, name, &set));
  if (!set) PetscCall(PetscOptionsSetValue(NULL, name, value));
  PetscFunctionReturn(0);
}

/* Levels for PCMG: one more per halving of the number of intervals (N+1) of both axes, while
 * the coarser grid keeps at least 3 interior points (4 intervals) on each. */
static PetscInt mg_levels(PetscInt nx, PetscInt ny)
{
  PetscInt levels = 1, mx = nx + 1, my = ny + 1;

  while (mx % 2 == 0 && my % 2 == 0 && mx / 2 >= 4 && my / 2 >= 4) {
    mx /= 2;
    my /= 2;
    levels++;
  }
  return levels;
}

int main(int argc, char **argv)
{
  PetscInt       nx = 1023, ny = 1023, levels, its, i, j;
  PetscMPIInt    ranks;
  PetscBool      set, ismg;
  char           buf[64];
  DM             da;
  Mat            A;
  Vec            b, x, r;
  KSP            ksp;
  PC             pc;
  DMDALocalInfo  info;
  PetscScalar  **ab, **ax;
  PetscScalar    diag;
  PetscReal      hx, hy, cx, cy, err = 0, gerr, bnorm, rnorm;
  double         t0, t_setup, t_end, local[2], global[2];
  KSPConvergedReason reason;
  KSPType        ktype;
  PCType         ptype;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &ranks));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-nx", &nx, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-ny", &ny, NULL));
  if (nx < 1 || ny < 1) {
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, PETSC_STDERR,
                           "poisson: -nx and -ny must be at least 1 (got %" PetscInt_FMT " and %" PetscInt_FMT ")\n", nx, ny));
    PetscCall(PetscFinalize());
    return 2;
  }
  PetscCall(default_option("-ksp_rtol", "1e-8"));
  PetscCall(default_option("-ksp_norm_type", "unpreconditioned"));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-pc_type", buf, sizeof buf, &set));
  if (set && !strcmp(buf, PCMG)) { /* not for GAMG, which reads the same options otherwise */
    PetscCall(default_option("-pc_mg_galerkin", "both"));
    PetscCall(PetscSNPrintf(buf, sizeof buf, "%" PetscInt_FMT, mg_levels(nx, ny)));
    PetscCall(default_option("-pc_mg_levels", buf));
  }

  hx = 1.0 / (PetscReal)(nx + 1);
  hy = 1.0 / (PetscReal)(ny + 1);
  cx = hy / hx; /* the operator scaled by hx*hy: -cx (west, east), -cy (south, north) */
  cy = hx / hy;
  diag = 2 * (cx + cy);

  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  t0 = MPI_Wtime();

  PetscCall(DMDACreate2d(PETSC_COMM_WORLD, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, nx + 2, ny + 2,
                         PETSC_DECIDE, PETSC_DECIDE, 1, 1, NULL, NULL, &da));
  PetscCall(DMSetFromOptions(da));
  PetscCall(DMSetUp(da));
  PetscCall(DMDAGetLocalInfo(da, &info));
  PetscCall(DMCreateMatrix(da, &A));
  PetscCall(DMCreateGlobalVector(da, &b));
  PetscCall(VecDuplicate(b, &x));
  PetscCall(DMDAVecGetArray(da, b, &ab));
  for (j = info.ys; j < info.ys + info.ym; j++) {
    for (i = info.xs; i < info.xs + info.xm; i++) {
      MatStencil  row = {.i = i, .j = j}, col[5];
      PetscScalar v[5];
      PetscInt    n = 0;

      if (i == 0 || j == 0 || i == nx + 1 || j == ny + 1) {
        PetscCall(MatSetValuesStencil(A, 1, &row, 1, &row, &diag, INSERT_VALUES));
        ab[j][i] = 0;
        continue;
      }
      col[n] = row;
      v[n++] = diag;
      if (i > 1) { col[n] = (MatStencil){.i = i - 1, .j = j}; v[n++] = -cx; }
      if (i < nx) { col[n] = (MatStencil){.i = i + 1, .j = j}; v[n++] = -cx; }
      if (j > 1) { col[n] = (MatStencil){.i = i, .j = j - 1}; v[n++] = -cy; }
      if (j < ny) { col[n] = (MatStencil){.i = i, .j = j + 1}; v[n++] = -cy; }
      PetscCall(MatSetValuesStencil(A, 1, &row, n, col, v, INSERT_VALUES));
      ab[j][i] = hx * hy * source(i * hx, j * hy);
    }
  }
  PetscCall(DMDAVecRestoreArray(da, b, &ab));
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));

  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(KSPSetOperators(ksp, A, A));
  PetscCall(KSPSetFromOptions(ksp));
  PetscCall(KSPGetPC(ksp, &pc));
  /* Geometric multigrid coarsens the DMDA and interpolates on it; other preconditioners (GAMG
   * among them) get no DM, as they would otherwise ask it for vectors of their coarse levels. */
  PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCMG, &ismg));
  if (ismg) PetscCall(PCSetDM(pc, da));
  PetscCall(KSPSetUp(ksp));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  t_setup = MPI_Wtime();
  PetscCall(KSPSolve(ksp, b, x));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  t_end = MPI_Wtime();

  local[0] = t_setup - t0;
  local[1] = t_end - t0;
  PetscCallMPI(MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));

  PetscCall(KSPGetIterationNumber(ksp, &its));
  PetscCall(KSPGetConvergedReason(ksp, &reason));
  PetscCall(KSPGetType(ksp, &ktype));
  PetscCall(PCGetType(pc, &ptype));
  PetscCall(PetscObjectTypeCompareAny((PetscObject)pc, &ismg, PCMG, PCGAMG, ""));
  levels = 0; /* 0: not a multigrid preconditioner */
  if (ismg) PetscCall(PCMGGetLevels(pc, &levels));

  /* The true residual of the whole system, and the max-norm error at the interior nodes. */
  PetscCall(VecDuplicate(b, &r));
  PetscCall(MatMult(A, x, r));
  PetscCall(VecAYPX(r, -1.0, b));
  PetscCall(VecNorm(r, NORM_2, &rnorm));
  PetscCall(VecNorm(b, NORM_2, &bnorm));
  PetscCall(DMDAVecGetArrayRead(da, x, &ax));
  for (j = PetscMax(info.ys, 1); j < PetscMin(info.ys + info.ym, ny + 1); j++)
    for (i = PetscMax(info.xs, 1); i < PetscMin(info.xs + info.xm, nx + 1); i++)
      err = PetscMax(err, PetscAbsReal(PetscRealPart(ax[j][i]) - exact(i * hx, j * hy)));
  PetscCall(DMDAVecRestoreArrayRead(da, x, &ax));
  PetscCallMPI(MPI_Allreduce(&err, &gerr, 1, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));

  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "{\"solver\":\"petsc\",\"ksp\":\"%s\",\"pc\":\"%s\",\"nx\":%" PetscInt_FMT ",\"ny\":%" PetscInt_FMT
                        ",\"ranks\":%d,\"mg_levels\":%" PetscInt_FMT ",\"iters\":%" PetscInt_FMT
                        ",\"seconds\":%.6f,\"setup_seconds\":%.6f,\"relative_residual\":%.3e,\"error\":%.6e"
                        ",\"converged\":%s,\"reason\":\"%s\",\"petsc\":\"%d.%d.%d\"}\n",
                        ktype, ptype, nx, ny, ranks, levels, its, global[1], global[0], (double)(rnorm / bnorm), (double)gerr,
                        reason > 0 ? "true" : "false", KSPConvergedReasons[reason], PETSC_VERSION_MAJOR,
                        PETSC_VERSION_MINOR, PETSC_VERSION_SUBMINOR));

  PetscCall(VecDestroy(&r));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&b));
  PetscCall(MatDestroy(&A));
  PetscCall(KSPDestroy(&ksp));
  PetscCall(DMDestroy(&da));
  PetscCall(PetscFinalize());
  return reason > 0 ? 0 : 1;
}
