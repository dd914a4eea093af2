//! Reading back a Python `repr()` of a `str`, so the console can print a scenario's own
//! failure message as Locust's standalone runner does: it prints `exception.args[0]`, the
//! message itself, where the stored text is `CatchResponseError('message')`.

/// The string a Python `repr(str)` literal stands for, or `None` if `lit` is not exactly one
/// such literal (then the caller prints the text as it is).
pub fn unrepr(lit: &str) -> Option<String> {
    let quote = lit.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = lit.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            // An unescaped quote ends a literal early: this is not one literal.
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'x' => out.push(hex_char(&mut chars, 2)?),
            'u' => out.push(hex_char(&mut chars, 4)?),
            'U' => out.push(hex_char(&mut chars, 8)?),
            _ => return None,
        }
    }
    Some(out)
}

fn hex_char(chars: &mut std::str::Chars<'_>, digits: usize) -> Option<char> {
    let text: String = chars.by_ref().take(digits).collect();
    if text.len() != digits {
        return None;
    }
    char::from_u32(u32::from_str_radix(&text, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::unrepr;
    use crate::stats::pyfmt::str_repr;

    #[test]
    fn inverts_str_repr() {
        for s in [
            "custom failure text",
            "it's",
            "both ' and \"",
            "back\\slash",
            "tab\tnew\nline\r",
            "bell\u{7}",
            "é ünïcode 日本",
            "\u{200b}zero width",
            "",
        ] {
            assert_eq!(unrepr(&str_repr(s)).as_deref(), Some(s), "{s:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_one_literal() {
        for bad in [
            "",
            "x",
            "'open",
            "'a' + 'b'",
            "'bad \\q escape'",
            "'\\x4'",
            "'a'b'",
        ] {
            assert_eq!(unrepr(bad), None, "{bad:?}");
        }
    }
}
