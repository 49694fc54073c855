//! Typesetting real documents with the system's CJK fonts, read back with poppler's pdftotext.
// Test helpers fail loudly: that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use fengqiao_pdf::{Document, PdfError, Typesetter};

const TEMPLATE: &str = r##"
#let data = json("data.json")
#set page(paper: "a4", margin: 2cm)
#set text(font: "Noto Sans CJK SC", lang: "zh", size: 14pt)
#align(center, text(size: 28pt, weight: "bold", data.title))
#for name in data.names [
  - #name
]
#image("box.svg", width: 3cm)
#datetime.today().display("[year]-[month]-[day]")
#pagebreak()
第二页
"##;

const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#000"/></svg>"##;

fn setter() -> Typesetter {
    match Typesetter::from_system() {
        Ok(t) => t,
        Err(e) => unreachable!("fonts-noto-cjk is installed by scripts/test: {e}"),
    }
}

/// The text of a PDF, by poppler's pdftotext (installed by scripts/test).
fn text_of(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) must be installed: scripts/test installs it");
    assert!(out.status.success(), "pdftotext failed: {:?}", out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn chinese_text_data_and_pictures_are_typeset() {
    let t = setter();
    assert!(
        t.families().iter().any(|f| f.contains("Noto Sans CJK")),
        "families: {:?}",
        t.families()
    );
    let data = serde_json::json!({
        "title": "幸福村矛盾纠纷调解二维码",
        // Data is data: markup characters in a name are printed, not obeyed.
        "names": ["张某某", "#pagebreak() ]*_ 李四", "王师傅"],
    });
    let doc = Document::new(TEMPLATE)
        .json("data.json", &data)
        .file("box.svg", SVG)
        .today(2026, 11, 23);
    let pdf = t.pdf(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let text = text_of(&pdf);
    assert!(text.contains("幸福村矛盾纠纷调解二维码"), "{text}");
    assert!(text.contains("张某某") && text.contains("王师傅"), "{text}");
    assert!(text.contains("#pagebreak() ]*_ 李四"), "{text}");
    assert!(text.contains("2026-11-23"), "{text}");
    // Exactly the one page break the template asks for: pdftotext separates pages by \f.
    assert_eq!(text.matches('\u{c}').count(), 2, "{text:?}");
    assert!(text.contains("第二页"));
    // The fonts are embedded (subsets), so the PDF prints the same anywhere.
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("NotoSansCJK"), "the CJK font is not embedded");
}

#[test]
fn typesetting_errors_name_the_line_and_missing_files() {
    let t = setter();
    let bad = Document::new("= 标题\n\n#let x = \n#undefined_function()\n");
    let e = t.pdf(&bad).unwrap_err();
    assert_eq!(e.code(), "pdf.typeset");
    assert!(e.to_string().contains("line "), "{e}");

    let missing = Document::new("#json(\"data.json\")");
    let e = t.pdf(&missing).unwrap_err();
    assert_eq!(e.code(), "pdf.typeset");
    assert!(e.to_string().contains("data.json"), "{e}");

    // Packages would need the network: refused, not fetched.
    let package = Document::new("#import \"@preview/cetz:0.3.0\": canvas\n");
    let e = t.pdf(&package).unwrap_err();
    assert_eq!(e.code(), "pdf.typeset");
}

#[test]
fn missing_fonts_are_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let e = Typesetter::from_dir(empty.path()).unwrap_err();
    assert_eq!(e.code(), "pdf.no_fonts");
    assert!(e.to_string().contains("fonts-noto-cjk"), "{e}");
    let e = Typesetter::from_files(vec![empty.path().join("nope.ttc")]).unwrap_err();
    assert!(matches!(e, PdfError::NoFonts(_)));
}
