//! Photos lose where they were taken before they are stored: EXIF (which holds the GPS
//! position) and XMP metadata are removed from JPEG, PNG and WebP files, and blanked in HEIC
//! files (zeroed in place: the file keeps its layout, so no offset needs rewriting), the picture
//! itself untouched. Other files pass as they are.

/// The file without its EXIF and XMP metadata (unchanged when it holds none, or is not a
/// JPEG, PNG or WebP picture, or is malformed).
pub fn strip_metadata(content_type: &str, bytes: Vec<u8>) -> Vec<u8> {
    let stripped = match content_type {
        "image/jpeg" => strip_jpeg(&bytes),
        "image/png" => strip_png(&bytes),
        "image/webp" => strip_webp(&bytes),
        "image/heic" => blank_heic(&bytes),
        _ => None,
    };
    stripped.unwrap_or(bytes)
}

const XMP_JPEG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// JPEG: every APP1 segment holding EXIF or XMP goes; the rest (from the scan on, verbatim)
/// stays.
fn strip_jpeg(b: &[u8]) -> Option<Vec<u8>> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..2]);
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        // Start of scan (or end of image): the rest is picture data.
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(&b[i..]);
            return Some(out);
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let end = i + 2 + len;
        if len < 2 || end > b.len() {
            return None;
        }
        let payload = &b[i + 4..end];
        let metadata =
            marker == 0xE1 && (payload.starts_with(b"Exif\0") || payload.starts_with(XMP_JPEG));
        if !metadata {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
    }
    None
}

/// PNG: the `eXIf` chunk and XMP text chunks go.
fn strip_png(b: &[u8]) -> Option<Vec<u8>> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !b.starts_with(SIG) {
        return None;
    }
    let mut out = SIG.to_vec();
    let mut i = SIG.len();
    while i + 12 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let kind = &b[i + 4..i + 8];
        let end = i + 12 + len;
        if end > b.len() {
            return None;
        }
        let data = &b[i + 8..i + 8 + len];
        let xmp =
            matches!(kind, b"iTXt" | b"tEXt" | b"zTXt") && data.starts_with(b"XML:com.adobe.xmp\0");
        if kind != b"eXIf" && !xmp {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            return Some(out);
        }
    }
    None
}

/// WebP: the `EXIF` and `XMP ` chunks go, and the extended header stops announcing them.
fn strip_webp(b: &[u8]) -> Option<Vec<u8>> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return None;
    }
    let mut out = b[..12].to_vec();
    let mut i = 12;
    while i + 8 <= b.len() {
        let kind = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        let end = i + 8 + len + (len & 1);
        if end > b.len() {
            return None;
        }
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" if len >= 1 => {
                let at = out.len();
                out.extend_from_slice(&b[i..end]);
                // Flags: bit 3 EXIF, bit 2 XMP.
                out[at + 8] &= !0b0000_1100;
            }
            _ => out.extend_from_slice(&b[i..end]),
        }
        i = end;
    }
    let size = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Some(out)
}

/// An ISO BMFF box: its type, where its content starts (after the header) and where it ends.
struct BoxAt<'a> {
    kind: &'a [u8],
    body: usize,
    end: usize,
}

/// The boxes in `b[from..to]`, in order; `None` when one overruns.
fn boxes(b: &[u8], from: usize, to: usize) -> Option<Vec<BoxAt<'_>>> {
    let mut out = Vec::new();
    let mut i = from;
    while i + 8 <= to {
        let size32 = u32::from_be_bytes(b[i..i + 4].try_into().ok()?) as usize;
        let (size, header) = match size32 {
            0 => (to - i, 8),
            1 => (
                usize::try_from(u64::from_be_bytes(b.get(i + 8..i + 16)?.try_into().ok()?)).ok()?,
                16,
            ),
            n => (n, 8),
        };
        if size < header || i + size > to {
            return None;
        }
        out.push(BoxAt {
            kind: &b[i + 4..i + 8],
            body: i + header,
            end: i + size,
        });
        i += size;
    }
    Some(out)
}

/// A big-endian unsigned number of `n` bytes (0, 2, 4 or 8) at `*at`, moving `at` on.
fn read_be(b: &[u8], at: &mut usize, n: usize) -> Option<u64> {
    let bytes = b.get(*at..*at + n)?;
    *at += n;
    Some(bytes.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

/// HEIC (ISO BMFF, HEIF): the items of type `Exif`, and `mime` items of XMP, are found in the
/// `meta` box's `iinf`, located through its `iloc` (in the file or in `idat`), and their bytes
/// overwritten with empty metadata of the same length.
fn blank_heic(b: &[u8]) -> Option<Vec<u8>> {
    let top = boxes(b, 0, b.len())?;
    let meta = top.iter().find(|x| x.kind == b"meta")?;
    // `meta` is a full box: version and flags first.
    let inner = boxes(b, meta.body + 4, meta.end)?;
    let iinf = inner.iter().find(|x| x.kind == b"iinf")?;
    let iloc = inner.iter().find(|x| x.kind == b"iloc")?;
    let idat = inner
        .iter()
        .find(|x| x.kind == b"idat")
        .map(|x| (x.body, x.end));
    // iinf: version, flags, entry count (16 or 32 bits), then `infe` boxes.
    let mut at = iinf.body;
    let version = b[at];
    at += 4;
    read_be(b, &mut at, if version == 0 { 2 } else { 4 })?;
    // (item id, whether it is EXIF rather than XMP)
    let mut hidden: Vec<(u64, bool)> = Vec::new();
    for infe in boxes(b, at, iinf.end)?.iter().filter(|x| x.kind == b"infe") {
        let mut p = infe.body;
        let v = *b.get(p)?;
        p += 4;
        if v < 2 {
            continue;
        }
        let id = read_be(b, &mut p, if v == 2 { 2 } else { 4 })?;
        p += 2; // protection index
        let item_type = b.get(p..p + 4)?;
        p += 4;
        let metadata = match item_type {
            b"Exif" => Some(true),
            b"mime" => {
                // item_name, then content_type, each NUL-terminated.
                let rest = b.get(p..infe.end)?;
                let mut parts = rest.split(|c| *c == 0);
                parts.next();
                parts
                    .next()
                    .is_some_and(|ct| ct.starts_with(b"application/rdf+xml"))
                    .then_some(false)
            }
            _ => None,
        };
        if let Some(exif) = metadata {
            hidden.push((id, exif));
        }
    }
    if hidden.is_empty() {
        return None;
    }
    // iloc: where each item's bytes are.
    let mut p = iloc.body;
    let v = b[p];
    p += 4;
    let sizes = *b.get(p)?;
    let more = *b.get(p + 1)?;
    p += 2;
    let (offset_size, length_size) = (usize::from(sizes >> 4), usize::from(sizes & 15));
    let base_size = usize::from(more >> 4);
    let index_size = if v >= 1 { usize::from(more & 15) } else { 0 };
    let count = read_be(b, &mut p, if v < 2 { 2 } else { 4 })?;
    let mut ranges: Vec<(usize, usize, bool)> = Vec::new();
    for _ in 0..count {
        let id = read_be(b, &mut p, if v < 2 { 2 } else { 4 })?;
        let method = if v >= 1 {
            read_be(b, &mut p, 2)? & 15
        } else {
            0
        };
        read_be(b, &mut p, 2)?; // data reference index
        let base = read_be(b, &mut p, base_size)?;
        let extents = read_be(b, &mut p, 2)?;
        for _ in 0..extents {
            read_be(b, &mut p, index_size)?;
            let offset = read_be(b, &mut p, offset_size)?;
            let length = read_be(b, &mut p, length_size)?;
            let Some(&(_, exif)) = hidden.iter().find(|(h, _)| *h == id) else {
                continue;
            };
            let start = usize::try_from(base.checked_add(offset)?).ok()?;
            let (from, limit) = match method {
                0 => (start, b.len()),
                1 => {
                    let (body, end) = idat?;
                    (body.checked_add(start)?, end)
                }
                _ => return None,
            };
            // A length of 0 means "to the end" of the data.
            let to = if length == 0 {
                limit
            } else {
                from.checked_add(usize::try_from(length).ok()?)?
            };
            if to > limit || from > to {
                return None;
            }
            ranges.push((from, to, exif));
        }
    }
    // What is left reads as empty metadata: EXIF with no entries (the item's 4-byte offset to
    // its TIFF header, a big-endian header and an empty directory), XMP with no properties.
    const EMPTY_EXIF: &[u8] = b"\0\0\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0";
    const EMPTY_XMP: &[u8] = b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>";
    let mut out = b.to_vec();
    for (from, to, exif) in ranges {
        let (fill, empty) = if exif {
            (0, EMPTY_EXIF)
        } else {
            (b' ', EMPTY_XMP)
        };
        out[from..to].fill(fill);
        if to - from >= empty.len() {
            out[from..from + empty.len()].copy_from_slice(empty);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    #[test]
    fn a_jpeg_loses_its_exif_gps_and_xmp_and_keeps_its_picture() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        let exif = segment(
            0xE1,
            b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 30.5N GPSLongitude 120.1E",
        );
        let xmp = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta GPS/>");
        jpeg.extend(&exif);
        jpeg.extend(&xmp);
        jpeg.extend(segment(0xDB, &[0u8; 65]));
        let scan = [
            0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 0x12, 0x34, 0xFF, 0xD9,
        ];
        jpeg.extend_from_slice(&scan);
        let out = strip_metadata("image/jpeg", jpeg.clone());
        assert!(!contains(&out, b"GPS"), "no position left");
        assert!(!contains(&out, b"Exif"));
        assert!(contains(&out, b"JFIF"), "other segments stay");
        assert!(out.ends_with(&scan), "the picture data is untouched");
        assert_eq!(out.len(), jpeg.len() - exif.len() - xmp.len());
        // A file without metadata comes back as it was; a broken one too.
        assert_eq!(strip_metadata("image/jpeg", out.clone()), out);
        let broken = vec![0xFF, 0xD8, 0x00, 0x01];
        assert_eq!(strip_metadata("image/jpeg", broken.clone()), broken);
    }

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked here)
        c
    }

    #[test]
    fn a_png_loses_its_exif_chunk_and_xmp() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0u8; 13]));
        png.extend(chunk(b"eXIf", b"MM\0*GPSLatitude"));
        png.extend(chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<GPS/>"));
        png.extend(chunk(b"tEXt", b"Comment\0hello"));
        png.extend(chunk(b"IDAT", &[1, 2, 3]));
        png.extend(chunk(b"IEND", &[]));
        let out = strip_metadata("image/png", png);
        assert!(!contains(&out, b"GPS"));
        assert!(contains(&out, b"Comment") && contains(&out, b"IDAT") && contains(&out, b"IEND"));
    }

    #[test]
    fn a_webp_loses_its_exif_chunk_and_flag() {
        let mut body = b"WEBP".to_vec();
        let mut vp8x = b"VP8X".to_vec();
        vp8x.extend_from_slice(&10u32.to_le_bytes());
        vp8x.extend_from_slice(&[0b0000_1100, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        body.extend(vp8x);
        let mut exif = b"EXIF".to_vec();
        exif.extend_from_slice(&11u32.to_le_bytes());
        exif.extend_from_slice(b"GPSLatitude\0"); // odd length: one pad byte
        body.extend(exif);
        let mut vp8 = b"VP8 ".to_vec();
        vp8.extend_from_slice(&4u32.to_le_bytes());
        vp8.extend_from_slice(&[9, 9, 9, 9]);
        body.extend(vp8);
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
        webp.extend(body);
        let out = strip_metadata("image/webp", webp);
        assert!(!contains(&out, b"GPS"));
        assert_eq!(out[20] & 0b1100, 0, "flags no longer announce EXIF/XMP");
        assert_eq!(
            u32::from_le_bytes([out[4], out[5], out[6], out[7]]) as usize,
            out.len() - 8
        );
        assert!(out.ends_with(&[9, 9, 9, 9]));
    }

    fn bmff(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn infe(id: u16, kind: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut body = vec![2, 0, 0, 0];
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(kind);
        body.extend_from_slice(extra);
        bmff(b"infe", &body)
    }

    #[test]
    fn a_heic_has_its_exif_and_xmp_blanked_and_keeps_its_picture() {
        let picture = b"HEVC-PICTURE-DATA".to_vec();
        let exif = b"\0\0\0\x06Exif\0\0MM\0*GPSLatitude 30.52N GPSLongitude 120.1E".to_vec();
        let xmp = b"<x:xmpmeta><exif:GPSLatitude>30,31N</exif:GPSLatitude></x:xmpmeta>".to_vec();
        let ftyp = bmff(b"ftyp", b"heic\0\0\0\0mif1heic");
        let mut iinf_body = vec![0, 0, 0, 0, 0, 3];
        iinf_body.extend(infe(1, b"hvc1", b"\0"));
        iinf_body.extend(infe(2, b"Exif", b"\0"));
        iinf_body.extend(infe(3, b"mime", b"\0application/rdf+xml\0"));
        let iinf = bmff(b"iinf", &iinf_body);
        // The offsets depend on the meta box's size: build it once with zeros to measure.
        let iloc_of = |offsets: [u32; 3]| {
            let mut body = vec![0, 0, 0, 0, 0x44, 0x00, 0, 3];
            for (i, (off, len)) in offsets
                .iter()
                .zip([picture.len(), exif.len(), xmp.len()])
                .enumerate()
            {
                body.extend_from_slice(&(i as u16 + 1).to_be_bytes());
                body.extend_from_slice(&[0, 0, 0, 1]);
                body.extend_from_slice(&off.to_be_bytes());
                body.extend_from_slice(&(len as u32).to_be_bytes());
            }
            bmff(b"iloc", &body)
        };
        let meta_of = |iloc: Vec<u8>| {
            let mut body = vec![0, 0, 0, 0];
            body.extend(bmff(
                b"hdlr",
                b"\0\0\0\0\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ));
            body.extend(iinf.clone());
            body.extend(iloc);
            bmff(b"meta", &body)
        };
        let head = ftyp.len() + meta_of(iloc_of([0; 3])).len() + 8;
        let offsets = [
            head as u32,
            (head + picture.len()) as u32,
            (head + picture.len() + exif.len()) as u32,
        ];
        let mut file = ftyp.clone();
        file.extend(meta_of(iloc_of(offsets)));
        file.extend(bmff(
            b"mdat",
            &[picture.clone(), exif.clone(), xmp.clone()].concat(),
        ));
        let out = strip_metadata("image/heic", file.clone());
        assert_eq!(out.len(), file.len(), "the layout is kept");
        assert!(!contains(&out, b"GPSLatitude"), "the position is gone");
        assert!(contains(&out, &picture), "the picture is kept");
        assert!(
            contains(&out, b"application/rdf+xml"),
            "the item stays declared"
        );
        // A HEIC without metadata items, or a damaged one, passes unchanged.
        let mut plain = ftyp;
        plain.extend(bmff(b"mdat", &picture));
        assert_eq!(strip_metadata("image/heic", plain.clone()), plain);
        let cut = file[..file.len() / 2].to_vec();
        assert_eq!(strip_metadata("image/heic", cut.clone()), cut);
    }
}
