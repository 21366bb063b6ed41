//! Small text helpers for messages and names, written so that std's generic string code
//! is not linked into the browser module for them (ARCHITECTURE.md "Release size").

/// The first `chars` characters of `text`, to show the start of something long in a
/// message. By place, not collected from `chars().take(n)` (a `String` built from an
/// iterator of chars is an instance of its own).
pub fn head(text: &str, chars: usize) -> &str {
    text.char_indices().nth(chars).map_or(text, |(at, _)| &text[..at])
}

/// `parts` with `separator` between them, as `[&str]::join` writes them, without std's
/// join (its code for each length of separator made it ~800 bytes of the module).
pub fn joined(parts: &[&str], separator: &str) -> String {
    let mut text = String::new();
    for (at, part) in parts.iter().enumerate() {
        if at > 0 {
            text.push_str(separator);
        }
        text.push_str(part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_cuts_at_a_character() {
        assert_eq!(head("héllo", 2), "hé");
        assert_eq!(head("hé", 2), "hé");
        assert_eq!(head("", 3), "");
    }

    #[test]
    fn joined_writes_what_join_writes() {
        for parts in [&[][..], &["a"][..], &["a", "", "bc"][..]] {
            assert_eq!(joined(parts, ", "), parts.join(", "));
        }
    }
}
