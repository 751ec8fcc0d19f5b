//! Conditions on the edges of the global domain.

use crate::error::{Error, Result};

/// What the ghost cells beyond one edge of the global domain hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Boundary {
    /// A fixed value in every ghost layer.
    Dirichlet(f64),
    /// Zero normal gradient: ghost layers mirror the interior across the edge.
    Neumann,
    /// The domain wraps around: the opposite edge's cells, exchanged like a neighbour's. The
    /// opposite side must be periodic too.
    Periodic,
}

/// One of the four edges of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The edge before row 0 (the "top").
    North,
    /// The edge after the last row.
    South,
    /// The edge before column 0.
    West,
    /// The edge after the last column.
    East,
}

impl Side {
    /// All four sides.
    pub const ALL: [Side; 4] = [Side::North, Side::South, Side::West, Side::East];
}

/// The boundary condition on each side of the domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boundaries {
    /// Before row 0.
    pub north: Boundary,
    /// After the last row.
    pub south: Boundary,
    /// Before column 0.
    pub west: Boundary,
    /// After the last column.
    pub east: Boundary,
}

impl Boundaries {
    /// The same condition on all four sides.
    pub fn all(b: Boundary) -> Self {
        Boundaries {
            north: b,
            south: b,
            west: b,
            east: b,
        }
    }

    /// The condition on `side`.
    pub fn side(&self, side: Side) -> Boundary {
        match side {
            Side::North => self.north,
            Side::South => self.south,
            Side::West => self.west,
            Side::East => self.east,
        }
    }

    /// Whether the domain wraps around along x (west and east periodic).
    pub fn periodic_x(&self) -> bool {
        self.west == Boundary::Periodic
    }

    /// Whether the domain wraps around along y (north and south periodic).
    pub fn periodic_y(&self) -> bool {
        self.north == Boundary::Periodic
    }

    /// Checks that periodic sides come in opposite pairs and Dirichlet values are finite.
    pub fn validate(&self) -> Result<()> {
        let per = |b: Boundary| b == Boundary::Periodic;
        if per(self.west) != per(self.east) || per(self.north) != per(self.south) {
            return Err(Error::Decomposition(
                "a periodic boundary needs the opposite side periodic too".into(),
            ));
        }
        for s in Side::ALL {
            if let Boundary::Dirichlet(v) = self.side(s) {
                if !v.is_finite() {
                    return Err(Error::Decomposition(format!(
                        "the {s:?} Dirichlet value {v} is not a finite number"
                    )));
                }
            }
        }
        Ok(())
    }
}
