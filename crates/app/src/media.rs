//! Photos lose where they were taken before they are stored: EXIF (which holds the GPS
//! position) and XMP metadata are removed from JPEG, PNG and WebP files, the picture itself
//! untouched. Other files pass as they are.

/// The file without its EXIF and XMP metadata (unchanged when it holds none, or is not a
/// JPEG, PNG or WebP picture, or is malformed).
pub fn strip_metadata(content_type: &str, bytes: Vec<u8>) -> Vec<u8> {
    let stripped = match content_type {
        "image/jpeg" => strip_jpeg(&bytes),
        "image/png" => strip_png(&bytes),
        "image/webp" => strip_webp(&bytes),
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
}
