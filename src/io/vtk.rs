//! VTK XML ImageData (`.vti`) files, which ParaView and VisIt open.

use crate::error::Result;
use ndarray::Array2;
use std::fmt::Write as _;
use std::path::Path;

/// A point-data array of an image file: one value per grid point, or a 3-vector.
pub enum VtkArray<'a> {
    /// A scalar field of shape `(ny, nx)`.
    Scalar(&'a str, &'a Array2<f64>),
    /// A vector field from its x and y components, each `(ny, nx)`; z is 0.
    Vector(&'a str, &'a Array2<f64>, &'a Array2<f64>),
}

/// Writes fields on an `nx × ny` grid of points, spaced `(hx, hy)` from `origin`, as VTK XML
/// ImageData with raw little-endian `Float64` appended data (compact, and exact to the bit).
///
/// Arrays are `(ny, nx)` with row 0 at the top of the domain (largest y), as everywhere in `halo`;
/// VTK counts y upwards, so rows are written last to first.
pub fn write_vti(
    path: &Path,
    origin: (f64, f64),
    spacing: (f64, f64),
    arrays: &[VtkArray<'_>],
) -> Result<()> {
    let (ny, nx) = match arrays.first() {
        Some(VtkArray::Scalar(_, a)) | Some(VtkArray::Vector(_, a, _)) => a.dim(),
        None => (0, 0),
    };
    let extent = format!("0 {} 0 {} 0 0", nx.saturating_sub(1), ny.saturating_sub(1));
    let mut xml = String::new();
    let _ = writeln!(xml, r#"<?xml version="1.0"?>"#);
    let _ = writeln!(
        xml,
        r#"<VTKFile type="ImageData" version="1.0" byte_order="LittleEndian" header_type="UInt64">"#
    );
    let _ = writeln!(
        xml,
        r#"  <ImageData WholeExtent="{extent}" Origin="{:e} {:e} 0" Spacing="{:e} {:e} 1">"#,
        origin.0, origin.1, spacing.0, spacing.1
    );
    let _ = writeln!(xml, r#"    <Piece Extent="{extent}">"#);
    let _ = writeln!(xml, r#"      <PointData>"#);
    let mut payload: Vec<u8> = Vec::new();
    for a in arrays {
        let (name, comps) = match a {
            VtkArray::Scalar(n, _) => (n, 1),
            VtkArray::Vector(n, _, _) => (n, 3),
        };
        let _ = writeln!(
            xml,
            r#"        <DataArray type="Float64" Name="{name}" NumberOfComponents="{comps}" format="appended" offset="{}"/>"#,
            payload.len()
        );
        let bytes = (nx * ny * comps * 8) as u64;
        payload.extend_from_slice(&bytes.to_le_bytes());
        for i in (0..ny).rev() {
            for j in 0..nx {
                match a {
                    VtkArray::Scalar(_, s) => payload.extend_from_slice(&s[[i, j]].to_le_bytes()),
                    VtkArray::Vector(_, u, v) => {
                        for x in [u[[i, j]], v[[i, j]], 0.0] {
                            payload.extend_from_slice(&x.to_le_bytes());
                        }
                    }
                }
            }
        }
    }
    let _ = writeln!(xml, r#"      </PointData>"#);
    let _ = writeln!(xml, r#"    </Piece>"#);
    let _ = writeln!(xml, r#"  </ImageData>"#);
    let _ = write!(xml, r#"  <AppendedData encoding="raw">"#);
    xml.push_str("\n   _");
    let mut bytes = xml.into_bytes();
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(b"\n  </AppendedData>\n</VTKFile>\n");
    super::files::write_atomic(path, &bytes)
}
