//! A check of an xls file's container before calamine reads it. An xls is a Compound File: a
//! small disk of sectors, a FAT that chains them, and a directory of streams. calamine follows
//! chains without a bound: a chain that loops, or a stream that claims more data than its chain
//! holds, makes it grow a buffer until the process aborts (found by tests/fuzz.rs). Every chain
//! is walked here first, each sector at most once and never past the end of the file.

const MAX_REGULAR: u32 = 0xFFFF_FFFA;
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FREE: u32 = 0xFFFF_FFFF;
/// Streams this short live in the mini stream, in 64-byte sectors (as calamine reads them).
const MINI_CUTOFF: u64 = 4096;
const MINI_SECTOR: u64 = 64;

/// Why the container cannot be read safely, if it cannot. Files too short to have a
/// Compound File header are left to calamine, which refuses them itself.
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 512 || bytes[..8] != [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
        return Ok(());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let shift = u16_at(30);
    if shift != 9 && shift != 12 {
        return Err(format!(
            "its sector size (2^{shift}) is not one Excel writes"
        ));
    }
    let size = 1usize << shift;
    // Sector `i` starts at byte `(i + 1) * size`; a last sector may be cut short.
    let sectors = bytes.len().div_ceil(size).saturating_sub(1);
    let sector = |id: u32| -> Result<&[u8], String> {
        let id = id as usize;
        if id >= sectors {
            return Err(format!(
                "it refers to sector {id}, but the file holds {sectors}"
            ));
        }
        let start = (id + 1) * size;
        Ok(&bytes[start..(start + size).min(bytes.len())])
    };

    // The FAT's own sectors: 109 in the header, then a chain of DIFAT sectors.
    let mut fat_sectors: Vec<u32> = (0..109).map(|i| u32_at(bytes, 76 + 4 * i)).collect();
    let mut difat = u32_at(bytes, 68);
    let mut seen = 0;
    while difat <= MAX_REGULAR {
        seen += 1;
        if seen > sectors {
            return Err("its table of sectors loops".into());
        }
        let s = sector(difat)?;
        let entries = s.len() / 4;
        fat_sectors.extend((0..entries.saturating_sub(1)).map(|i| u32_at(s, 4 * i)));
        difat = if entries > 0 {
            u32_at(s, 4 * (entries - 1))
        } else {
            END_OF_CHAIN
        };
    }
    let mut fat = Vec::new();
    for id in fat_sectors.into_iter().filter(|id| *id <= MAX_REGULAR) {
        let s = sector(id)?;
        fat.extend((0..s.len() / 4).map(|i| u32_at(s, 4 * i)));
    }

    let directory = chain(&fat, u32_at(bytes, 48), sectors)?;
    let mut entries = Vec::new();
    for id in &directory {
        let s = sector(*id)?;
        entries.extend(s.chunks_exact(128).map(|e| e.to_vec()));
    }
    let Some(root) = entries.first() else {
        return Ok(()); // calamine says "empty root directory"
    };
    let stream_len = |e: &[u8]| -> u64 {
        if shift == 9 {
            u64::from(u32_at(e, 120)) // version 3 keeps 32 bits; the rest may be junk
        } else {
            u64::from(u32_at(e, 120)) | u64::from(u32_at(e, 124)) << 32
        }
    };
    let holds = |len: u64, chain_len: usize, unit: u64| len <= chain_len as u64 * unit;
    let too_long = |what: &str| format!("{what} claims more data than the file holds");

    // The mini stream (the root entry's data) and the mini FAT that chains its sectors.
    let mini_len = stream_len(root);
    let mini_stream = if mini_len > 0 {
        chain(&fat, u32_at(root, 116), sectors)?.len()
    } else {
        0
    };
    if !holds(mini_len, mini_stream, size as u64) {
        return Err(too_long("its mini stream"));
    }
    let mini_fat_sectors = u32_at(bytes, 64) as usize;
    let mut mini_fat = Vec::new();
    if mini_fat_sectors > 0 {
        let ids = chain(&fat, u32_at(bytes, 60), sectors)?;
        if ids.len() < mini_fat_sectors {
            return Err(too_long("its mini sector table"));
        }
        for id in ids {
            let s = sector(id)?;
            mini_fat.extend((0..s.len() / 4).map(|i| u32_at(s, 4 * i)));
        }
    }
    let mini_sectors = (mini_len / MINI_SECTOR) as usize;

    for e in entries.iter().skip(1) {
        let len = stream_len(e);
        if len == 0 {
            continue;
        }
        let start = u32_at(e, 116);
        if len < MINI_CUTOFF {
            let ids = chain(&mini_fat, start, mini_sectors)?;
            if !holds(len, ids.len(), MINI_SECTOR) {
                return Err(too_long("a stream"));
            }
        } else if !holds(len, chain(&fat, start, sectors)?.len(), size as u64) {
            return Err(too_long("a stream"));
        }
    }
    Ok(())
}

/// The sectors of the chain from `start` in `table`, each at most once, all below `count`.
fn chain(table: &[u32], start: u32, count: usize) -> Result<Vec<u32>, String> {
    let mut ids = Vec::new();
    let mut seen = vec![false; count];
    let mut id = start;
    while id != END_OF_CHAIN && id != FREE {
        let i = id as usize;
        if id > MAX_REGULAR || i >= count || i >= table.len() {
            return Err(format!(
                "a chain of its sectors points outside the file (sector {id})"
            ));
        }
        if std::mem::replace(&mut seen[i], true) {
            return Err("a chain of its sectors loops back on itself".into());
        }
        ids.push(id);
        id = table[i];
    }
    Ok(ids)
}
