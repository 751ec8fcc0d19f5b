//! VTK XML ImageData: one piece of a grid (`.vti`), and the file that names a grid's pieces
//! (`.pvti`), which ParaView and VisIt open as one dataset.

use crate::error::Result;
use ndarray::Array2;
use std::fmt::Write as _;
use std::path::Path;

/// A range of point indices along x and y, both ends included, as VTK writes an extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent {
    /// First and last point along x.
    pub x: (usize, usize),
    /// First and last point along y (VTK's y counts upwards).
    pub y: (usize, usize),
}

impl Extent {
    fn attr(&self) -> String {
        format!("{} {} {} {} 0 0", self.x.0, self.x.1, self.y.0, self.y.1)
    }
}

/// The XML head of one VTK file: declaration and `<VTKFile>` of `kind`.
fn head(kind: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"{kind}\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
    )
}

/// The bytes of a `.vti` file holding `extent` (also its whole extent: a piece stands alone),
/// points spaced `spacing` from `origin`, with raw little-endian `Float64` appended data: for
/// each array, its name, components and values in VTK's order (x fastest, y upwards), as many
/// as `extent`'s points times the components.
pub(super) fn vti_bytes(
    extent: Extent,
    origin: (f64, f64),
    spacing: (f64, f64),
    arrays: &[(&str, usize, Vec<f64>)],
) -> Vec<u8> {
    let e = extent.attr();
    let mut xml = head("ImageData");
    let _ = writeln!(
        xml,
        r#"  <ImageData WholeExtent="{e}" Origin="{:e} {:e} 0" Spacing="{:e} {:e} 1">"#,
        origin.0, origin.1, spacing.0, spacing.1
    );
    let _ = writeln!(xml, r#"    <Piece Extent="{e}">"#);
    let _ = writeln!(xml, r#"      <PointData>"#);
    let mut offset = 0;
    for (name, comps, values) in arrays {
        let _ = writeln!(
            xml,
            r#"        <DataArray type="Float64" Name="{name}" NumberOfComponents="{comps}" format="appended" offset="{offset}"/>"#
        );
        offset += 8 + 8 * values.len();
    }
    let _ = writeln!(xml, r#"      </PointData>"#);
    let _ = writeln!(xml, r#"    </Piece>"#);
    let _ = writeln!(xml, r#"  </ImageData>"#);
    let _ = write!(xml, "  <AppendedData encoding=\"raw\">\n   _");
    let mut bytes = Vec::with_capacity(xml.len() + offset + 32);
    bytes.extend_from_slice(xml.as_bytes());
    for (_, _, values) in arrays {
        bytes.extend_from_slice(&(8 * values.len() as u64).to_le_bytes());
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes.extend_from_slice(b"\n  </AppendedData>\n</VTKFile>\n");
    bytes
}

/// The bytes of a `.pvti` file: a grid of `whole` points spaced `spacing` from `origin`, whose
/// point arrays (name, components) are in the pieces `(extent, source)`, each source a path
/// relative to the `.pvti` file.
pub(super) fn pvti_bytes(
    whole: Extent,
    origin: (f64, f64),
    spacing: (f64, f64),
    arrays: &[(&str, usize)],
    pieces: &[(Extent, String)],
) -> Vec<u8> {
    let mut xml = head("PImageData");
    let _ = writeln!(
        xml,
        r#"  <PImageData WholeExtent="{}" GhostLevel="0" Origin="{:e} {:e} 0" Spacing="{:e} {:e} 1">"#,
        whole.attr(),
        origin.0,
        origin.1,
        spacing.0,
        spacing.1
    );
    let _ = writeln!(xml, r#"    <PPointData>"#);
    for (name, comps) in arrays {
        let _ = writeln!(
            xml,
            r#"      <PDataArray type="Float64" Name="{name}" NumberOfComponents="{comps}"/>"#
        );
    }
    let _ = writeln!(xml, r#"    </PPointData>"#);
    for (extent, source) in pieces {
        let _ = writeln!(
            xml,
            r#"    <Piece Extent="{}" Source="{source}"/>"#,
            extent.attr()
        );
    }
    let _ = writeln!(xml, r#"  </PImageData>"#);
    let _ = writeln!(xml, r#"</VTKFile>"#);
    xml.into_bytes()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_declares_its_extent_and_appends_each_array_with_its_length() {
        let e = Extent {
            x: (2, 4),
            y: (0, 1),
        };
        let b = vti_bytes(
            e,
            (0.5, 0.25),
            (0.5, 0.25),
            &[("a", 1, vec![1.0; 6]), ("v", 3, vec![2.0; 18])],
        );
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains(r#"WholeExtent="2 4 0 1 0 0""#), "{text}");
        assert!(text.contains(r#"<Piece Extent="2 4 0 1 0 0">"#), "{text}");
        assert!(text.contains(r#"Name="v" NumberOfComponents="3" format="appended" offset="56""#));
        // After the '_': a length, six values; a length, eighteen values.
        let at = b.windows(5).position(|w| w == b"\n   _").unwrap() + 5;
        assert_eq!(&b[at..at + 8], &48u64.to_le_bytes());
        assert_eq!(&b[at + 8..at + 16], &1.0f64.to_le_bytes());
        assert_eq!(&b[at + 56..at + 64], &144u64.to_le_bytes());
        assert_eq!(
            b.len() - at,
            8 + 48 + 8 + 144 + "\n  </AppendedData>\n</VTKFile>\n".len()
        );
    }

    #[test]
    fn the_pvti_names_every_piece_and_array() {
        let whole = Extent {
            x: (0, 9),
            y: (0, 4),
        };
        let pieces = [
            (
                Extent {
                    x: (0, 5),
                    y: (0, 4),
                },
                "f/piece-0000.vti".to_string(),
            ),
            (
                Extent {
                    x: (5, 9),
                    y: (0, 4),
                },
                "f/piece-0001.vti".to_string(),
            ),
        ];
        let b = pvti_bytes(
            whole,
            (1.0, 1.0),
            (1.0, 1.0),
            &[("u", 1), ("rank", 1)],
            &pieces,
        );
        let text = String::from_utf8(b).unwrap();
        assert!(text.contains(r#"<PImageData WholeExtent="0 9 0 4 0 0" GhostLevel="0""#));
        assert!(text.contains(r#"<Piece Extent="5 9 0 4 0 0" Source="f/piece-0001.vti"/>"#));
        assert!(text.contains(r#"<PDataArray type="Float64" Name="rank" NumberOfComponents="1"/>"#));
    }
}
