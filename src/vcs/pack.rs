//! Writes a new repository's objects as one pack with its version-2 index
//! (git's `Documentation/gitformat-pack.txt`), straight from memory.
//!
//! libgit2's pack builder and indexer did the same for nearly twice the
//! instructions: the builder deflates at zlib's default level, and the
//! indexer then inflates and hashes every object again to learn what the
//! caller already knew (ids, offsets). Here each object is deflated once at
//! the fastest level, the ids come from the object database that made them,
//! and only the two trailer checksums are computed. `git gc` repacks with
//! deltas and full compression whenever the user runs it.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, FlushCompress, Status};

/// One object as the pack holds it: its kind, id and raw contents.
pub struct PackObject<'a> {
    pub kind: git2::ObjectType,
    pub id: git2::Oid,
    pub data: &'a [u8],
}

/// The pack and index bytes of `objects`, and the pack's checksum (which
/// names both files).
pub struct Pack {
    pub pack: Vec<u8>,
    pub index: Vec<u8>,
    pub checksum: [u8; 20],
}

fn type_code(kind: git2::ObjectType) -> u8 {
    match kind {
        git2::ObjectType::Commit => 1,
        git2::ObjectType::Tree => 2,
        git2::ObjectType::Blob => 3,
        git2::ObjectType::Tag => 4,
        other => unreachable!("no {other:?} object is ever packed"),
    }
}

/// The entry header: type and inflated size, seven bits a byte after the
/// first four, low bits first.
fn entry_header(kind: git2::ObjectType, size: usize, out: &mut Vec<u8>) {
    let mut byte = (type_code(kind) << 4) | (size & 0x0f) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
}

/// One object as it goes into the pack: its id, its entry (header and
/// deflated contents) and the entry's CRC-32, which the index records.
pub struct Entry {
    id: git2::Oid,
    bytes: Vec<u8>,
    crc: u32,
}

/// Below this size an object is stored in its zlib stream, not compressed:
/// trees and commits of a few hundred bytes barely compress, and resetting
/// zlib's tables for each cost more than writing them as they are.
const STORED_BELOW: usize = 512;

/// The pack entries of `objects`. Objects deflate independently, so this
/// can run on another thread while the work tree is written.
pub fn deflate(objects: &[PackObject]) -> std::io::Result<Vec<Entry>> {
    // One zlib stream state for all objects (allocating one per object cost
    // more than compressing the small ones), made for the first that needs it.
    let mut zlib: Option<Compress> = None;
    objects
        .iter()
        .map(|object| {
            let mut bytes = Vec::with_capacity(object.data.len() / 2 + 64);
            entry_header(object.kind, object.data.len(), &mut bytes);
            if object.data.len() < STORED_BELOW {
                store(object.data, &mut bytes);
            } else {
                let zlib = zlib.get_or_insert_with(|| Compress::new(Compression::fast(), true));
                zlib.reset();
                loop {
                    bytes.reserve(object.data.len() / 2 + 64);
                    let consumed = zlib.total_in() as usize;
                    let status = zlib
                        .compress_vec(&object.data[consumed..], &mut bytes, FlushCompress::Finish)
                        .map_err(std::io::Error::other)?;
                    if status == Status::StreamEnd {
                        break;
                    }
                }
            }
            let mut crc = flate2::Crc::new();
            crc.update(&bytes);
            Ok(Entry {
                id: object.id,
                bytes,
                crc: crc.sum(),
            })
        })
        .collect()
}

/// `data` as a zlib stream of stored deflate blocks (RFC 1950, RFC 1951
/// section 3.2.4): a header for a 32 KiB window, blocks of at most 65535
/// bytes each with its length and the length's complement, then the Adler-32
/// of the data.
fn store(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
}

/// The pack of `entries` in their order, each object once, and its index.
pub fn assemble(mut deflated: Vec<Entry>) -> std::io::Result<Pack> {
    // Files with equal contents are one blob, which threads that hash and
    // deflate files apart may both have deflated.
    let mut seen = std::collections::HashSet::new();
    deflated.retain(|entry| seen.insert(entry.id));
    let count = u32::try_from(deflated.len()).map_err(std::io::Error::other)?;
    let mut pack =
        Vec::with_capacity(12 + deflated.iter().map(|e| e.bytes.len()).sum::<usize>() + 20);
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    // (id, offset, CRC-32 of the packed entry) of each object.
    let mut entries = Vec::with_capacity(deflated.len());
    for entry in deflated {
        let offset = u32::try_from(pack.len()).map_err(std::io::Error::other)?;
        pack.extend_from_slice(&entry.bytes);
        entries.push((entry.id, offset, entry.crc));
    }
    let checksum = sha1_smol::Sha1::from(&pack).digest().bytes();
    pack.extend_from_slice(&checksum);

    entries.sort_by_key(|(id, _, _)| *id);
    let mut index = Vec::with_capacity(8 + 256 * 4 + entries.len() * 28 + 40);
    index.extend_from_slice(&[0xff, b't', b'O', b'c']);
    index.extend_from_slice(&2u32.to_be_bytes());
    // fanout[b]: how many ids begin with a byte of at most b.
    let mut below = 0usize;
    for first in 0..=255u8 {
        below += entries[below..]
            .iter()
            .take_while(|(id, _, _)| id.as_bytes()[0] == first)
            .count();
        index.extend_from_slice(&(below as u32).to_be_bytes());
    }
    for (id, _, _) in &entries {
        index.extend_from_slice(id.as_bytes());
    }
    for (_, _, crc) in &entries {
        index.extend_from_slice(&crc.to_be_bytes());
    }
    for (_, offset, _) in &entries {
        // Under 2 GiB (a rendered project is at most 64 MiB): no
        // large-offset table.
        index.extend_from_slice(&offset.to_be_bytes());
    }
    index.extend_from_slice(&checksum);
    let own = sha1_smol::Sha1::from(&index).digest().bytes();
    index.extend_from_slice(&own);
    Ok(Pack {
        pack,
        index,
        checksum,
    })
}

/// Writes `pack` into `objects_dir/pack`, the pack before its index: git
/// only looks for packs through their indexes, so a run stopped between the
/// two leaves no half-visible pack. Returns the pack file's path.
pub fn write(objects_dir: &Path, pack: &Pack) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = objects_dir.join("pack");
    std::fs::create_dir_all(&dir)?;
    let name: String = pack.checksum.iter().map(|b| format!("{b:02x}")).collect();
    let write_read_only = |path: &Path, bytes: &[u8]| {
        // Read-only, as git leaves its packs.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(path)?
            .write_all(bytes)
    };
    let pack_path = dir.join(format!("pack-{name}.pack"));
    write_read_only(&pack_path, &pack.pack)?;
    write_read_only(&dir.join(format!("pack-{name}.idx")), &pack.index)?;
    Ok(pack_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(objects: &[PackObject]) -> std::io::Result<Pack> {
        assemble(deflate(objects)?)
    }

    fn hashed(kind: git2::ObjectType, data: &[u8]) -> (git2::ObjectType, git2::Oid, Vec<u8>) {
        (
            kind,
            git2::Oid::hash_object(kind, data).unwrap(),
            data.to_vec(),
        )
    }

    #[test]
    fn entry_headers_encode_type_and_size() {
        let mut out = Vec::new();
        entry_header(git2::ObjectType::Blob, 15, &mut out);
        assert_eq!(out, [0x3f]);
        out.clear();
        entry_header(git2::ObjectType::Blob, 16, &mut out);
        assert_eq!(out, [0xb0, 0x01]);
        out.clear();
        // 100_000 = 0x186a0: low four bits 0x0, then 0x6a and 0x30, seven bits each.
        entry_header(git2::ObjectType::Commit, 100_000, &mut out);
        assert_eq!(out, [0x90, 0xea, 0x30]);
    }

    /// Stored streams inflate to their data, empty and over a block long.
    #[test]
    fn stored_streams_inflate_to_their_data() {
        use std::io::Read;
        let long: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for data in [&b""[..], b"tree 1\0", &long] {
            let mut stream = Vec::new();
            store(data, &mut stream);
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(stream.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn libgit2_reads_every_object_back_from_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let objects = [
            hashed(git2::ObjectType::Blob, b"hello\n"),
            hashed(git2::ObjectType::Blob, b""),
            hashed(git2::ObjectType::Blob, &big),
        ];
        // Enough ids that several share a first byte and many bytes have none.
        let mut many: Vec<_> = (0..300)
            .map(|i| hashed(git2::ObjectType::Blob, format!("file {i}\n").as_bytes()))
            .collect();
        many.extend(objects);
        let packed: Vec<PackObject> = many
            .iter()
            .map(|(kind, id, data)| PackObject {
                kind: *kind,
                id: *id,
                data,
            })
            .collect();
        let pack = build(&packed).unwrap();
        write(&dir.path().join("objects"), &pack).unwrap();
        let repo = git2::Repository::open_bare(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        for (kind, id, data) in &many {
            let read = odb.read(*id).unwrap();
            assert_eq!(read.kind(), *kind);
            assert_eq!(read.data(), data.as_slice());
        }
    }
}
