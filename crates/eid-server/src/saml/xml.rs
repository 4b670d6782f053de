//! Hardened XML reading: every SAML message and metadata document is read here first, into
//! a small namespace-resolved element tree, before anything else looks at it.
//!
//! - No document type declaration at all (so no DTD, no entity definitions, no external
//!   entities, no entity expansion: XXE and "billion laughs" have nothing to work with);
//!   only the five predefined entities and character references are resolved.
//! - No processing instructions, one root element, nothing but comments and whitespace
//!   after it; end tags must match; duplicate attributes and unbound prefixes are errors.
//! - Size, depth, element and attribute counts are bounded.
//!
//! Elements are identified by namespace URI and local name, never by prefix. libxml2 (used
//! by xmlsec for signatures) parses in a recovering mode that accepts malformed input, so a
//! document is only handed to it after this strict reading succeeded.

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The bounds a document must stay within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Size of the document in bytes.
    pub max_bytes: usize,
    /// Nesting depth.
    pub max_depth: usize,
    /// Number of elements.
    pub max_elements: usize,
    /// Namespace declarations in the whole document (each costs canonicalisation work).
    pub max_namespaces: usize,
}

impl Limits {
    /// For protocol messages (requests arrive from anyone on the Internet).
    pub const MESSAGE: Limits = Limits {
        max_bytes: 64 * 1024,
        max_depth: 24,
        max_elements: 512,
        max_namespaces: 32,
    };
    /// For metadata documents (read by the administrator's command).
    pub const METADATA: Limits = Limits {
        max_bytes: 2 * 1024 * 1024,
        max_depth: 32,
        max_elements: 20_000,
        max_namespaces: 1_000,
    };
}

/// Most attributes an element may carry.
const MAX_ATTRIBUTES: usize = 64;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Larger than the limit.
    #[error("the XML document is larger than {0} bytes")]
    TooLarge(usize),
    /// Nested too deeply, or too many elements or attributes.
    #[error("the XML document is too complex")]
    TooComplex,
    /// A `<!DOCTYPE …>`.
    #[error("document type declarations are not accepted")]
    Doctype,
    /// A processing instruction.
    #[error("processing instructions are not accepted")]
    ProcessingInstruction,
    /// A reference to an entity other than the five predefined ones.
    #[error("entity references are not accepted")]
    Entity,
    /// A prefix without a namespace declaration.
    #[error("an XML prefix is not declared")]
    UnboundPrefix,
    /// Not one root element.
    #[error("the XML document must have exactly one root element")]
    Root,
    /// Anything else that is not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
}

fn malformed(err: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(err.to_string())
}

/// An attribute: namespace URI (empty for an unprefixed attribute), local name, value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI; empty when unprefixed (XML Namespaces 1.0 section 6.2).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// The value, references resolved.
    pub value: String,
}

/// An element with its namespace URI, local name, attributes, child elements and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI (empty when none).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Attributes (namespace declarations excluded).
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The concatenated character data directly inside the element.
    pub text: String,
}

impl Element {
    /// Whether this is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_empty() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The child elements `{ns}name`.
    pub fn children<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The only child `{ns}name`: `Ok(None)` when absent, an error when repeated.
    pub fn child(&self, ns: &str, name: &str) -> Result<Option<&Element>, XmlError> {
        let mut found = self.children.iter().filter(|c| c.is(ns, name));
        let first = found.next();
        if found.next().is_some() {
            return Err(XmlError::Malformed(format!("more than one <{name}>")));
        }
        Ok(first)
    }
}

fn namespace(resolved: ResolveResult<'_>) -> Result<String, XmlError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(String::from_utf8(ns.as_ref().to_vec()).map_err(malformed)?),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(_) => Err(XmlError::UnboundPrefix),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(malformed)
}

fn element(
    reader: &NsReader<&[u8]>,
    start: &quick_xml::events::BytesStart<'_>,
    namespaces: &mut usize,
) -> Result<Element, XmlError> {
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let mut element = Element {
        ns: namespace(ns)?,
        name: utf8(local.as_ref())?,
        ..Element::default()
    };
    if !attributes_separated(start.attributes_raw()) {
        return Err(malformed("attributes must be separated by white space"));
    }
    let mut declarations = 0usize;
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = attr.key;
        // Namespace declarations count too (each costs the resolver work).
        declarations += 1;
        if declarations > MAX_ATTRIBUTES {
            return Err(XmlError::TooComplex);
        }
        // XML 1.0 section 3.1 (AttValue): no `<` in a value. quick-xml lets it through;
        // libxml2 in recovery mode would read another tree from it.
        if attr.value.contains(&b'<') {
            return Err(malformed("'<' in an attribute value"));
        }
        if key.as_namespace_binding().is_some() {
            *namespaces += 1;
            continue;
        }
        let (ns, local) = reader.resolver().resolve_attribute(key);
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| XmlError::Entity)?;
        let attribute = Attribute {
            ns: namespace(ns)?,
            name: utf8(local.as_ref())?,
            value: value.into_owned(),
        };
        // One attribute per local name (whatever its namespace): xmlsec and libxml2 look
        // some up by local name only (`ID`).
        if element.attributes.iter().any(|a| a.name == attribute.name) {
            return Err(malformed("two attributes with one local name"));
        }
        element.attributes.push(attribute);
    }
    Ok(element)
}

/// Whether the attributes of a start tag's raw text are separated by white space (XML 1.0
/// section 3.1: `(S Attribute)*`). quick-xml reads `a=""b=""` as two attributes; libxml2
/// in recovery mode reads another tree from it.
fn attributes_separated(raw: &[u8]) -> bool {
    let mut quote = None;
    let mut after_value = false;
    for &b in raw {
        if let Some(q) = quote {
            if b == q {
                quote = None;
                after_value = true;
            }
            continue;
        }
        if after_value && !b.is_ascii_whitespace() && b != b'/' {
            return false;
        }
        after_value = false;
        if b == b'"' || b == b'\'' {
            quote = Some(b);
        }
    }
    true
}

/// Reads `xml` into its root element, within `limits`.
pub fn parse(xml: &str, limits: Limits) -> Result<Element, XmlError> {
    if xml.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(limits.max_bytes));
    }
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    let mut namespaces = 0usize;
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        let at_start = std::mem::replace(&mut first, false);
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_none() => {
                elements += 1;
                if elements > limits.max_elements || open.len() >= limits.max_depth {
                    return Err(XmlError::TooComplex);
                }
                let el = element(&reader, &start, &mut namespaces)?;
                if namespaces > limits.max_namespaces {
                    return Err(XmlError::TooComplex);
                }
                if is_empty {
                    close(el, &mut open, &mut root);
                } else {
                    open.push(el);
                }
            }
            Event::Start(_) | Event::Empty(_) => return Err(XmlError::Root),
            Event::End(_) => {
                let el = open.pop().ok_or_else(|| malformed("unexpected end tag"))?;
                close(el, &mut open, &mut root);
            }
            Event::Text(text) => {
                let text = text.xml10_content().map_err(malformed)?;
                match open.last_mut() {
                    Some(el) => el.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(XmlError::Root),
                }
            }
            Event::CData(data) => {
                let data = data.decode().map_err(malformed)?;
                open.last_mut().ok_or(XmlError::Root)?.text.push_str(&data);
            }
            Event::GeneralRef(reference) => {
                let el = open.last_mut().ok_or(XmlError::Root)?;
                if let Some(c) = reference.resolve_char_ref().map_err(malformed)? {
                    el.text.push(c);
                } else {
                    let name = reference.decode().map_err(malformed)?;
                    let value = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or(XmlError::Entity)?;
                    el.text.push_str(value);
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            // Only at the very start (XML 1.0 section 2.8), and only UTF-8: libxml2 (under
            // xmlsec) would honour another encoding and read another document than this.
            Event::Decl(decl) => {
                let utf8 = match decl.encoding() {
                    None => true,
                    Some(Ok(encoding)) => encoding.eq_ignore_ascii_case(b"UTF-8"),
                    Some(Err(_)) => false,
                };
                if !at_start || !utf8 {
                    return Err(malformed(
                        "the XML declaration must come first and name UTF-8",
                    ));
                }
            }
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !open.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.ok_or(XmlError::Root)
}

fn close(el: Element, open: &mut [Element], root: &mut Option<Element>) {
    match open.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Whether `value` is an `xs:ID` (an XML `NCName`) of at most 256 characters: the form of
/// the IDs this server echoes into `InResponseTo`.
pub fn is_ncname(value: &str) -> bool {
    let mut chars = value.chars();
    let start = |c: char| c.is_alphabetic() || c == '_';
    let rest = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    value.len() <= 256 && chars.next().is_some_and(start) && chars.all(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:test";

    #[test]
    fn reads_namespaces_attributes_and_text() {
        let doc = parse(
            r#"<?xml version="1.0"?><!-- c --><a:r xmlns:a="urn:test" x="1 &amp; 2"><a:c>t&lt;&#65;<![CDATA[<z>]]></a:c><c/></a:r>"#,
            Limits::MESSAGE,
        )
        .unwrap();
        assert!(doc.is(NS, "r"));
        assert_eq!(doc.attr("x"), Some("1 & 2"));
        assert_eq!(doc.child(NS, "c").unwrap().unwrap().text, "t<A<z>");
        // The unprefixed <c/> is in no namespace: not the same element.
        assert_eq!(doc.children.len(), 2);
        assert!(doc.children[1].is("", "c"));
    }

    #[test]
    fn refuses_dtds_entities_and_external_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe, Limits::MESSAGE), Err(XmlError::Doctype));
        let laughs = r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>"#;
        assert_eq!(parse(laughs, Limits::MESSAGE), Err(XmlError::Doctype));
        // An undeclared entity without a DTD.
        assert_eq!(parse("<r>&x;</r>", Limits::MESSAGE), Err(XmlError::Entity));
        assert_eq!(
            parse(r#"<r a="&x;"/>"#, Limits::MESSAGE),
            Err(XmlError::Entity)
        );
    }

    #[test]
    fn refuses_malformed_and_oversized_documents() {
        let bad = [
            "<r>",
            "<r></s>",
            "<r/><r/>",
            "<r/>junk",
            "text<r/>",
            r#"<r a="1" a="2"/>"#,
            "<p:r/>",
            "<?php x?><r/>",
            "",
        ];
        for xml in bad {
            assert!(parse(xml, Limits::MESSAGE).is_err(), "{xml}");
        }
        let deep = "<a>".repeat(30) + &"</a>".repeat(30);
        assert_eq!(parse(&deep, Limits::MESSAGE), Err(XmlError::TooComplex));
        let wide = format!("<r>{}</r>", "<a/>".repeat(600));
        assert_eq!(parse(&wide, Limits::MESSAGE), Err(XmlError::TooComplex));
        let spread: String = (0..40)
            .map(|i| format!("<a xmlns:p{i}=\"urn:{i}\"/>"))
            .collect();
        assert_eq!(
            parse(&format!("<r>{spread}</r>"), Limits::MESSAGE),
            Err(XmlError::TooComplex)
        );
        for bad in [
            r#"<r a="<q>"/>"#,
            r#"<r a=""b=""/>"#,
            r#"<r xmlns:p="urn:p" ID="1" p:ID="2"/>"#,
        ] {
            assert!(parse(bad, Limits::MESSAGE).is_err(), "{bad}");
        }
        let declarations: String = (0..70)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        assert_eq!(
            parse(&format!("<r{declarations}/>"), Limits::MESSAGE),
            Err(XmlError::TooComplex)
        );
        for decl in [
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>",
            " <?xml version=\"1.0\"?><r/>",
            "<!-- c --><?xml version=\"1.0\"?><r/>",
        ] {
            assert!(parse(decl, Limits::MESSAGE).is_err(), "{decl}");
        }
        assert!(
            parse(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><r/>",
                Limits::MESSAGE
            )
            .is_ok()
        );
        let big = format!("<r>{}</r>", "x".repeat(70_000));
        assert_eq!(parse(&big, Limits::MESSAGE), Err(XmlError::TooLarge(65536)));
    }

    #[test]
    fn repeated_children_are_an_error_where_one_is_expected() {
        let doc = parse(r#"<r xmlns="urn:test"><c/><c/></r>"#, Limits::MESSAGE).unwrap();
        assert!(doc.child(NS, "c").is_err());
        assert_eq!(doc.children(NS, "c").count(), 2);
    }

    #[test]
    fn ncnames() {
        assert!(is_ncname("_a1-b.c"));
        assert!(is_ncname("id-0123"));
        for bad in ["", "1abc", "a b", "a\"b", "a:b", "<x", &"a".repeat(257)] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }
}
