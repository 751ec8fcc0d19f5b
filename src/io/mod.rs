//! Outputs people open: VTK files for ParaView (written in pieces, one per rank), PNG pictures
//! (drawn from fields sampled at their pixels), hashes of fields, and checkpoints to restart from
//! (written by every rank into one file through MPI-IO, read back onto any decomposition);
//! all written atomically (a temporary file, flushed, renamed; those of runs that died mid-write
//! are removed by the next run into the directory).

mod checkpoint;
mod files;
mod hash;
mod pieces;
pub mod plot;
mod png;
mod restart;
mod vtk;

pub use checkpoint::{
    checkpoint_files, checkpoint_name, newest_checkpoint, newest_file, newest_head,
    prune_checkpoints, read_checkpoint, read_head, write_checkpoint, Checkpoint, CheckpointHeader,
};
pub(crate) use files::io_err;
pub use files::{abandon_writes, ensure_dir, remove_stale_temporaries, write_atomic};
pub use hash::{band_digest, distributed_sha256, field_sha256, Fingerprint};
pub use pieces::{piece_cells, piece_name, pvti_bytes_held, write_pvti, PieceArray};
pub use plot::{panels_png, Panel};
pub use png::{
    block_sets_png, decomposition_map_png, decomposition_png, finite_range, heatmap_png,
    heatmap_with_contours_png, picture_cell, picture_shape, sampled_decomposition_png,
    sampled_heatmap_png, viridis, BlockSet, Sampled,
};
pub use restart::{restore, Checkpointer, Restored, RunIdentity};
