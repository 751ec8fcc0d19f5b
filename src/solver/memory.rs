//! What the memory system looks like to a sweep: cache sizes, and the choices that follow from
//! them (which stores a sweep uses, how large a temporal-blocking tile may be).

use super::kernels::Stores;

/// The size in bytes of the data (or unified) cache at `level` (1, 2, 3…) of CPU 0, read from
/// Linux's sysfs; `None` when it cannot be read (another OS, a container hiding it).
pub fn cache_bytes(level: u32) -> Option<usize> {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut found = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let read = |name: &str| std::fs::read_to_string(entry.path().join(name)).ok();
        let (Some(l), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if l.trim().parse::<u32>().ok() == Some(level) && kind.trim() != "Instruction" {
            found = parse_size(size.trim());
        }
    }
    found
}

/// The largest cache level's size in bytes (`None` when sysfs says nothing).
pub fn last_level_cache_bytes() -> Option<usize> {
    (1..=4).rev().find_map(cache_bytes)
}

/// Parses sysfs cache sizes: `48K`, `2048K`, `32M`, or bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = digits.parse().ok()?;
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The stores for sweeps whose arrays take `working_set` bytes on a node whose last-level cache
/// holds `cache` bytes: streaming when the arrays are more than half the cache (a sweep would
/// evict the lines it wrote before the next sweep reads them, so reading them first is wasted),
/// cached otherwise. An unknown cache counts as 32 MiB.
pub fn stores_for(working_set: usize, cache: Option<usize>) -> Stores {
    if working_set > cache.unwrap_or(32 << 20) / 2 {
        Stores::Streaming
    } else {
        Stores::Cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("266240K"), Some(266240 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn large_working_sets_stream() {
        let mib = 1 << 20;
        assert_eq!(stores_for(64 * mib, Some(260 * mib)), Stores::Cached);
        assert_eq!(stores_for(268 * mib, Some(260 * mib)), Stores::Streaming);
        assert_eq!(stores_for(8 * mib, None), Stores::Cached);
        assert_eq!(stores_for(17 * mib, None), Stores::Streaming);
    }

    #[test]
    fn this_machine_reports_a_cache_hierarchy_if_linux_does() {
        if std::path::Path::new("/sys/devices/system/cpu/cpu0/cache/index0").exists() {
            let l1 = cache_bytes(1).expect("an L1 data cache");
            let last = last_level_cache_bytes().expect("a last level");
            assert!(l1 >= 4096 && last >= l1, "L1 {l1}, last level {last}");
        }
    }
}
