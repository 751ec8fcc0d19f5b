//! `halo batch`: the job scripts it prints, what it refuses, and a PBS script run for real (bash
//! and mpirun in a fake PBS environment) that starts a run and then resumes it.

mod common;

use common::{checkpoints, halo_bin, run_guarded, Run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A fresh temporary directory for this test.
fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("halo-batch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `halo batch ARGS`, without MPI.
fn batch(args: &[&str]) -> Run {
    run_guarded(
        Command::new(halo_bin()).arg("batch").args(args),
        Duration::from_secs(60),
        &format!("halo batch {}", args.join(" ")),
    )
}

/// The script `halo batch ARGS` prints, checked to exit 0 and to say nothing on stderr.
fn script(args: &[&str]) -> String {
    let run = batch(args);
    run.assert_ok("halo batch");
    assert_eq!(run.stderr, "", "halo batch wrote to stderr");
    run.stdout
}

/// Whether `script` has `line` as a whole line.
fn has(script: &str, line: &str) -> bool {
    script.lines().any(|l| l == line)
}

/// Asserts that bash parses `script` (`bash -n`).
fn parses(script: &str, dir: &Path) {
    let file = dir.join("job.sh");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "bash -n refused the script: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn slurm_script_asks_for_the_job_and_launches_with_srun() {
    let dir = temp("slurm");
    let s = script(&[
        "--scheduler",
        "slurm",
        "--nodes",
        "2",
        "--ranks-per-node",
        "16",
        "--time",
        "1-02:00:00",
        "--job-name",
        "lap",
        "--partition",
        "short",
        "--account",
        "proj1",
        "--checkpoint-lead",
        "300",
        "--requeue",
        "--",
        "solve",
        "--grid",
        "512x512",
        "--iters",
        "4000",
        "--threads",
        "2",
        "--out",
        "my results",
    ]);
    parses(&s, &dir);
    for line in [
        "#!/bin/bash",
        "#SBATCH --job-name=lap",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=16",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=1-02:00:00",
        "#SBATCH --output=halo-%j.out",
        "#SBATCH --signal=USR1@300",
        "#SBATCH --partition=short",
        "#SBATCH --account=proj1",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        "set -euo pipefail",
        "# module load openmpi",
        "export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK",
        "if [ -z \"${SLURM_MPI_TYPE:-}\" ] && srun --mpi=list 2>&1 | grep -w pmix >/dev/null; then",
        "CKPT=ckpt-lap",
        // iterations / 20 between checkpoints; the path with a space quoted.
        "srun \"$HALO\" solve --grid 512x512 --iters 4000 --threads 2 --out 'my results' --checkpoint-dir ckpt-lap --checkpoint-every 200 --checkpoint-keep 2 ${RESTART[@]+\"${RESTART[@]}\"} || status=$?",
        "if [ \"$status\" -eq 138 ]; then",
        "echo \"halo exited with $status\"",
    ] {
        assert!(has(&s, line), "missing {line:?} in\n{s}");
    }
    // The command that wrote it, to regenerate it; the binary that wrote it, overridable.
    assert!(s.contains("#   halo batch --scheduler slurm --nodes 2 "));
    assert!(s.contains(" -- solve --grid 512x512 --iters 4000 --threads 2 --out 'my results'\n"));
    let exe = halo_bin().canonicalize().unwrap();
    assert!(has(&s, &format!("HALO=${{HALO:-{}}}", exe.display())));
    assert!(s.contains("sbatch THIS_FILE"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pbs_script_selects_chunks_and_launches_with_mpirun() {
    let dir = temp("pbs");
    let s = script(&[
        "--scheduler",
        "pbs",
        "--nodes",
        "3",
        "--ranks-per-node",
        "4",
        "--time",
        "48:00:00",
        "--queue",
        "workq",
        "--",
        "solve",
        "--grid",
        "300x200",
        "--threads",
        "8",
        "--procs",
        "4x3",
    ]);
    parses(&s, &dir);
    for line in [
        "#PBS -N halo",
        "#PBS -l select=3:ncpus=32:mpiprocs=4:ompthreads=8",
        "#PBS -l walltime=48:00:00",
        "#PBS -j oe",
        "#PBS -q workq",
        "cd \"$PBS_O_WORKDIR\"",
        "CKPT=ckpt-halo",
        // 1000 iterations by default: a checkpoint every 50.
        "mpirun --hostfile \"$PBS_NODEFILE\" -n 12 --map-by slot:PE=8 \"$HALO\" solve --grid 300x200 --threads 8 --procs 4x3 --checkpoint-dir ckpt-halo --checkpoint-every 50 --checkpoint-keep 2 ${RESTART[@]+\"${RESTART[@]}\"} || status=$?",
    ] {
        assert!(has(&s, line), "missing {line:?} in\n{s}");
    }
    assert!(s.contains("qsub THIS_FILE"));
    assert!(s.contains("kill_delay"));
    assert!(!s.contains("#SBATCH") && !s.contains("srun") && !s.contains("--signal"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoints_the_run_asks_for_are_kept_and_a_solver_without_them_starts_over() {
    let dir = temp("own");
    let s = script(&[
        "--scheduler",
        "slurm",
        "--nodes",
        "1",
        "--ranks-per-node",
        "2",
        "--",
        "solve",
        "--checkpoint-every",
        "7",
        "--checkpoint-dir",
        "/scratch/me/ck",
    ]);
    parses(&s, &dir);
    assert!(has(&s, "CKPT=/scratch/me/ck"));
    let launch = s.lines().find(|l| l.starts_with("srun ")).unwrap();
    assert!(
        launch.contains(" solve --checkpoint-every 7 --checkpoint-dir /scratch/me/ck ${RESTART")
    );
    assert_eq!(launch.matches("--checkpoint").count(), 2, "{launch}");

    let s = script(&[
        "--scheduler",
        "slurm",
        "--nodes",
        "1",
        "--ranks-per-node",
        "2",
        "--",
        "solve",
        "--solver",
        "pipecg",
    ]);
    parses(&s, &dir);
    assert!(!s.contains("--checkpoint-dir") && !s.contains("--signal"));
    assert!(s.contains("writes no checkpoints"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_get_one_line_and_exit_2() {
    let job = ["--nodes", "2", "--ranks-per-node", "2"];
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--scheduler",
                "slurm",
                "--nodes",
                "0",
                "--ranks-per-node",
                "2",
                "--",
                "solve",
            ],
            "--nodes must be at least 1",
        ),
        (
            &[
                "--scheduler",
                "pbs",
                "--nodes",
                "1",
                "--ranks-per-node",
                "0",
                "--",
                "solve",
            ],
            "--ranks-per-node must be at least 1",
        ),
        (
            &["--time", "2:00", "--", "solve"],
            "--time 2:00: use HH:MM:SS",
        ),
        (&["--time", "01:75:00", "--", "solve"], "up to 59"),
        (
            &["--", "solve", "--grid", "12"],
            "'12' is not of the form NXxNY",
        ),
        (
            &["--", "solve", "--gird", "12x12"],
            "unexpected argument '--gird'",
        ),
        (&["--", "solve", "--threads", "0"], "--threads"),
        (
            &["--", "solve", "--restart", "old"],
            "--restart: the script passes",
        ),
        (
            &["--", "solve", "--procs", "3x1"],
            "--procs 3x1 has 3 ranks, but --nodes 2 x --ranks-per-node 2 start 4",
        ),
        (
            &["--", "scale", "--grid", "64x64"],
            "only `solve` is supported",
        ),
        (&[], "nothing to run"),
        (&["--job-name", "a b", "--", "solve"], "--job-name \"a b\""),
        (&["--", "solve", "--out", "a\nb"], "line breaks"),
        (
            &["--time", "00:01:00", "--", "solve"],
            "--checkpoint-lead 120 s (the default) leaves no time",
        ),
        // Options for the other scheduler.
        (
            &[
                "--scheduler",
                "pbs",
                "--nodes",
                "1",
                "--ranks-per-node",
                "1",
                "--requeue",
                "--",
                "solve",
            ],
            "--requeue is for Slurm",
        ),
        (
            &[
                "--scheduler",
                "pbs",
                "--nodes",
                "1",
                "--ranks-per-node",
                "1",
                "--checkpoint-lead",
                "60",
                "--",
                "solve",
            ],
            "--checkpoint-lead is for Slurm",
        ),
        (
            &[
                "--scheduler",
                "pbs",
                "--nodes",
                "1",
                "--ranks-per-node",
                "1",
                "--time",
                "1-00:00:00",
                "--",
                "solve",
            ],
            "PBS takes hours, here 24:00:00",
        ),
    ];
    for (args, says) in cases {
        // A case that names its scheduler says everything; the others are 2 x 2 under Slurm.
        let mut all = Vec::new();
        if !args.contains(&"--scheduler") {
            all.extend(["--scheduler", "slurm"].iter().chain(&job));
        }
        all.extend(args.iter());
        let run = batch(&all);
        assert_eq!(run.code, Some(2), "{all:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{all:?} printed a script");
        let lines: Vec<_> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{all:?}: not one line: {}", run.stderr);
        assert!(
            lines[0].starts_with("halo: error: ") && lines[0].contains(says),
            "{all:?}: {:?} does not say {says:?}",
            lines[0]
        );
    }
}

#[test]
fn help_documents_the_contract_with_an_example() {
    let run = batch(&["--help"]);
    run.assert_ok("halo batch --help");
    for says in [
        "--scheduler",
        "--ranks-per-node",
        "--checkpoint-lead",
        "--requeue",
        "D-HH:MM:SS",
        "--restart",
        "only when that directory already holds a checkpoint",
        "halo batch --scheduler slurm --nodes 2",
        "sbatch halo.sbatch",
        "qsub halo.pbs",
    ] {
        assert!(
            run.stdout.contains(says),
            "help lacks {says:?}:\n{}",
            run.stdout
        );
    }
}

/// Runs the PBS `script` with bash as PBS would: in a fake environment of one node listed twice
/// in `$PBS_NODEFILE`, in `dir`.
fn run_as_pbs(script: &str, dir: &Path) -> Run {
    let file = dir.join("job.pbs");
    std::fs::write(&file, script).unwrap();
    let nodes = dir.join("nodefile");
    std::fs::write(&nodes, "localhost\nlocalhost\n").unwrap();
    // Started elsewhere: the script goes to $PBS_O_WORKDIR itself.
    let mut cmd = Command::new("bash");
    cmd.arg(&file)
        .current_dir(std::env::temp_dir())
        .env("PBS_NODEFILE", &nodes)
        .env("PBS_O_WORKDIR", dir)
        .env("PBS_JOBID", "1.test")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_hwloc_base_binding_policy", "none")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env_remove("HALO");
    run_guarded(&mut cmd, Duration::from_secs(120), "bash job.pbs")
}

#[test]
fn a_pbs_script_runs_then_resumes_from_its_checkpoint() {
    // Checkpoints where the run says, in a directory with a space: every 20 of 50 iterations,
    // so the newest (40) is short of the end and a second submission goes on from it.
    let dir = temp("pbs-run");
    let s = script(&[
        "--scheduler",
        "pbs",
        "--nodes",
        "1",
        "--ranks-per-node",
        "2",
        "--",
        "solve",
        "--grid",
        "33x33",
        "--iters",
        "50",
        "--checkpoint-every",
        "20",
        "--checkpoint-dir",
        "ck dir",
    ]);
    let first = run_as_pbs(&s, &dir);
    first.assert_ok("the PBS script");
    assert!(first.stdout.contains("iterations 50"), "{}", first.stdout);
    assert!(first.stdout.contains("halo exited with 0"));
    assert!(!first.stdout.contains("restarted from"), "{}", first.stdout);
    let written = checkpoints(&dir.join("ck dir"));
    // At 20 and 40: 50 is no multiple of 20.
    assert_eq!(written.len(), 2, "{written:?}");

    let second = run_as_pbs(&s, &dir);
    second.assert_ok("the PBS script, again");
    assert!(
        second
            .stdout
            .contains("halo batch: resuming from the newest checkpoint in ck dir"),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains("restarted from the checkpoint at iteration 40"),
        "{}",
        second.stdout
    );
    assert!(second.stdout.contains("iterations 50"));
    assert!(second.stdout.contains("halo exited with 0"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pbs_script_checkpoints_by_default_and_a_finished_run_is_not_run_again() {
    let dir = temp("pbs-default");
    let s = script(&[
        "--scheduler",
        "pbs",
        "--nodes",
        "1",
        "--ranks-per-node",
        "2",
        "--job-name",
        "small",
        "--",
        "solve",
        "--grid",
        "33x33",
        "--iters",
        "50",
    ]);
    let first = run_as_pbs(&s, &dir);
    first.assert_ok("the PBS script");
    assert!(first.stdout.contains("iterations 50"), "{}", first.stdout);
    // Every 50/20 = 2 iterations, the newest two kept.
    let written = checkpoints(&dir.join("ckpt-small"));
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ckpt-0000000048.halo", "ckpt-0000000050.halo"]);

    // Its newest checkpoint is its end: halo refuses to go on from there, and the script says
    // so and passes the exit status on, without telling to resubmit.
    let second = run_as_pbs(&s, &dir);
    assert_eq!(second.code, Some(2), "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("already at iteration 50"),
        "{}",
        second.stderr
    );
    assert!(second.stdout.contains("halo exited with 2"));
    assert!(!second.stdout.contains("submit this script again"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_binary_is_named_before_anything_runs() {
    let dir = temp("nobin");
    let s = script(&[
        "--scheduler",
        "pbs",
        "--nodes",
        "1",
        "--ranks-per-node",
        "1",
        "--",
        "solve",
        "--grid",
        "9x9",
    ]);
    let file = dir.join("job.pbs");
    std::fs::write(&file, s).unwrap();
    let out = Command::new("bash")
        .arg(&file)
        .env("PBS_O_WORKDIR", &dir)
        .env("PBS_NODEFILE", "/nonexistent")
        .env("HALO", dir.join("no-such-halo"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-halo is not an executable file"),
        "{err}"
    );
    assert!(!dir.join("ckpt-halo").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
