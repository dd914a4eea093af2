//! Python's `repr()` of a string, the form every failure text and error key is written in.

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`, backslash escapes
/// for the quote, `\\`, `\t`, `\n`, `\r` and non-printable characters.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let v = c as u32;
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable` for one character: control characters,
/// separators other than the space, and the common format characters are not printable.
/// (Unassigned code points, which Python also escapes, are not detected.)
fn is_printable(c: char) -> bool {
    let v = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(v,
        0xA0 | 0xAD | 0x1680 | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064
        | 0x2066..=0x206F | 0x3000 | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0xD800..=0xDFFF | 0xE000..=0xF8FF
    )
}

#[cfg(test)]
mod tests {
    use super::str_repr;

    #[test]
    fn quotes_and_escapes_as_python() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("it's \"q\""), "'it\\'s \"q\"'");
        assert_eq!(str_repr("a\\b\tc\nd\re"), "'a\\\\b\\tc\\nd\\re'");
        assert_eq!(str_repr("\u{0}\u{7f}"), "'\\x00\\x7f'");
        assert_eq!(str_repr("\u{200b}"), "'\\u200b'");
        assert_eq!(str_repr("caf\u{e9} \u{1F600}"), "'caf\u{e9} \u{1F600}'");
    }
}
