//! The server's event stream (`text/event-stream`) as far as a client reads it: every
//! event (lines ended by a blank line) with a `data:` line is a poke to sync; the rest
//! (comments, keep-alives) is ignored. Pure, fed the body's bytes as they arrive.
//!
//! It reads bytes, not text: line ends and field names are ASCII, and a UTF-8 decoder
//! never turns an ASCII byte into something else nor makes one out of other bytes, so
//! the events found are those a decoded text would show.

/// A UTF-8 byte order mark, dropped at the start of a stream as a decoder would.
const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Default)]
pub struct EventParser {
    /// Bytes not yet ended by a blank line, `\r\n` folded to `\n`.
    buffer: Vec<u8>,
    /// How far `buffer` has been searched for a blank line.
    searched: usize,
    /// A leading BOM has been dropped or ruled out.
    started: bool,
    /// The last chunk ended in `\r`, whose `\n` may open the next.
    pending_cr: bool,
}

impl EventParser {
    pub fn new() -> EventParser {
        EventParser::default()
    }

    /// Take the next chunk of the body; returns how many events it completed that
    /// carry data.
    pub fn push(&mut self, chunk: &[u8]) -> usize {
        if chunk.is_empty() {
            return 0;
        }
        let mut bytes = chunk;
        if std::mem::take(&mut self.pending_cr) {
            if let Some((b'\n', rest)) = bytes.split_first() {
                self.buffer.push(b'\n');
                bytes = rest;
            } else {
                self.buffer.push(b'\r');
            }
        }
        if let Some((b'\r', rest)) = bytes.split_last() {
            self.pending_cr = true;
            bytes = rest;
        }
        let mut rest = bytes;
        while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
            self.buffer.extend_from_slice(&rest[..at]);
            self.buffer.push(b'\n');
            rest = &rest[at + 2..];
        }
        self.buffer.extend_from_slice(rest);
        if !self.started {
            if self.buffer.len() < BOM.len() && BOM.starts_with(&self.buffer) {
                return 0;
            }
            if self.buffer.starts_with(BOM) {
                self.buffer.drain(..BOM.len());
            }
            self.started = true;
        }
        self.take_events()
    }

    fn take_events(&mut self) -> usize {
        let mut with_data = 0;
        let mut start = 0;
        // A blank line may straddle the previous search's end.
        let mut from = self.searched.saturating_sub(1);
        while let Some(at) = self.buffer[from..].windows(2).position(|w| w == b"\n\n") {
            let end = from + at + 2;
            if self.buffer[start..end].split(|b| *b == b'\n').any(|line| line.starts_with(b"data:")) {
                with_data += 1;
            }
            start = end;
            from = end;
        }
        self.buffer.drain(..start);
        self.searched = self.buffer.len();
        with_data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> Vec<usize> {
        let mut parser = EventParser::new();
        chunks.iter().map(|c| parser.push(c)).collect()
    }

    #[test]
    fn an_event_with_data_is_a_poke() {
        assert_eq!(feed(&[b"event: change\ndata: {}\n\n"]), [1]);
        assert_eq!(feed(&[b"data: 1\n\ndata: 2\n\n"]), [2]);
    }

    #[test]
    fn comments_and_events_without_data_are_not() {
        assert_eq!(feed(&[b": keep-alive\n\n", b"event: ping\n\n", b"id: 3\ndata:\n\n"]), [0, 0, 1]);
        // `data` must open the line.
        assert_eq!(feed(&[b" data: x\n\nxdata: y\n\n"]), [0]);
    }

    #[test]
    fn an_event_counts_once_it_ends() {
        assert_eq!(feed(&[b"data: x\n", b"\n"]), [0, 1]);
        assert_eq!(feed(&[b"da", b"ta: x", b"\n\nda", b"ta: y\n\n"]), [0, 0, 1, 1]);
        assert_eq!(feed(&[b"data: x\n"]), [0]);
    }

    #[test]
    fn crlf_ends_lines_even_split_across_chunks() {
        assert_eq!(feed(&[b"data: x\r\n\r\n"]), [1]);
        assert_eq!(feed(&[b"data: x\r", b"\n\r", b"\n"]), [0, 0, 1]);
        assert_eq!(feed(&[b"data: x\r\n", b"\r\n"]), [0, 1]);
        assert_eq!(feed(&[b"data: x\r", b"", b"\n\n"]), [0, 0, 1]);
    }

    #[test]
    fn a_lone_cr_is_not_a_line_end() {
        assert_eq!(feed(&[b"data: x\r\r", b"x\n\n"]), [0, 1]);
        assert_eq!(feed(&[b"event: a\rdata: x\n\n"]), [0]);
    }

    #[test]
    fn a_leading_bom_is_dropped_even_split() {
        assert_eq!(feed(&[b"\xEF\xBB\xBFdata: x\n\n"]), [1]);
        assert_eq!(feed(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]), [0, 0, 1]);
        // Only at the start of the stream.
        assert_eq!(feed(&[b"data: x\n\n", b"\xEF\xBB\xBFdata: y\n\n"]), [1, 0]);
        assert_eq!(feed(&[b"\xEF", b"data: x\n\n"]), [0, 0]);
    }

    #[test]
    fn invalid_utf8_does_not_hide_lines() {
        assert_eq!(feed(&[b"data: \xFF\xC3\n\ndata: \xE2\x82\n\n"]), [2]);
    }
}
