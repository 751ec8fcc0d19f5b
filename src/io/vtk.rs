//! VTK XML ImageData: one piece of a grid (`.vti`), and the file that names a grid's pieces
//! (`.pvti`), which ParaView and VisIt open as one dataset.

use std::fmt::Write as _;

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
