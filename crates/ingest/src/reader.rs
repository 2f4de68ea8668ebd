//! Streaming line splitter: reads any `BufRead` one line at a time in constant memory.
//!
//! Owns line numbering (1-based, counting blank lines), CRLF handling, skipping blank
//! lines, and the line-length limit: a line longer than the limit is read in chunks and
//! discarded as it goes, so a 10 MB line costs no more memory than a short one.

use std::io::{self, BufRead};

/// What the splitter found on one line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineContent<'a> {
    /// The line's bytes without the line end.
    Text(&'a [u8]),
    /// The line was longer than the limit; only its length was kept.
    TooLong { bytes: u64 },
}

/// Splits a reader into lines; see the module comment.
pub(crate) struct LineReader<R> {
    inner: R,
    buffer: Vec<u8>,
    line_number: u64,
    max_line_bytes: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_line_bytes: usize) -> Self {
        LineReader {
            inner,
            buffer: Vec::new(),
            line_number: 0,
            max_line_bytes,
        }
    }

    /// The number of the line most recently returned (0 before the first).
    pub(crate) fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Bytes currently reserved for the line buffer (for tests of the memory bound).
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// The next non-blank line with its number, or `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, LineContent<'_>)>> {
        loop {
            self.buffer.clear();
            let mut length: u64 = 0;
            let mut too_long = false;
            let mut saw_anything = false;
            // A line may carry one extra byte: the `\r` of a CRLF line end.
            let keep_limit = self.max_line_bytes.saturating_add(1);
            loop {
                let available = match self.inner.fill_buf() {
                    Ok(bytes) => bytes,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err),
                };
                if available.is_empty() {
                    if !saw_anything {
                        return Ok(None);
                    }
                    break;
                }
                saw_anything = true;
                let (chunk_end, consumed, ended) = match memchr::memchr(b'\n', available) {
                    Some(newline) => (newline, newline + 1, true),
                    None => (available.len(), available.len(), false),
                };
                let chunk = &available[..chunk_end];
                length += chunk.len() as u64;
                if !too_long {
                    if self.buffer.len() + chunk.len() > keep_limit {
                        too_long = true;
                        self.buffer.clear();
                    } else {
                        self.buffer.extend_from_slice(chunk);
                    }
                }
                self.inner.consume(consumed);
                if ended {
                    break;
                }
            }
            self.line_number += 1;
            if too_long {
                // A trailing `\r` is part of the line end, not of the content.
                return Ok(Some((
                    self.line_number,
                    LineContent::TooLong { bytes: length },
                )));
            }
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
            if self.buffer.len() > self.max_line_bytes {
                let bytes = self.buffer.len() as u64;
                return Ok(Some((self.line_number, LineContent::TooLong { bytes })));
            }
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some((self.line_number, LineContent::Text(&self.buffer))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], limit: usize) -> Vec<(u64, Result<String, u64>)> {
        let mut reader = LineReader::new(io::BufReader::with_capacity(4, input), limit);
        let mut out = Vec::new();
        while let Some((n, content)) = reader.next_line().unwrap() {
            out.push((
                n,
                match content {
                    LineContent::Text(t) => Ok(String::from_utf8(t.to_vec()).unwrap()),
                    LineContent::TooLong { bytes } => Err(bytes),
                },
            ));
        }
        out
    }

    #[test]
    fn splits_lines_counting_blank_ones_and_stripping_crlf() {
        let lines = collect(b"one\r\n\r\n  \ntwo\nthree", 100);
        assert_eq!(
            lines,
            vec![
                (1, Ok("one".into())),
                (4, Ok("two".into())),
                (5, Ok("three".into()))
            ]
        );
        assert!(collect(b"", 100).is_empty());
        assert!(collect(b"\n\r\n", 100).is_empty());
    }

    #[test]
    fn memory_stays_bounded_on_a_ten_megabyte_line() {
        use std::io::Read;
        let limit = 64 * 1024;
        let huge = io::repeat(b'{')
            .take(10 * 1024 * 1024)
            .chain(&b"\nshort\n"[..]);
        let mut reader = LineReader::new(io::BufReader::new(huge), limit);
        let (number, content) = reader.next_line().unwrap().unwrap();
        assert_eq!(number, 1);
        assert_eq!(
            content,
            LineContent::TooLong {
                bytes: 10 * 1024 * 1024
            }
        );
        assert!(
            reader.buffer_capacity() <= 2 * (limit + 1),
            "{}",
            reader.buffer_capacity()
        );
        let (number, content) = reader.next_line().unwrap().unwrap();
        assert_eq!((number, content), (2, LineContent::Text(b"short")));
    }

    #[test]
    fn discards_lines_over_the_limit_and_keeps_going() {
        let lines = collect(b"12345\r\n123456\nabc\n1234567890123", 5);
        assert_eq!(
            lines,
            vec![
                (1, Ok("12345".into())),
                (2, Err(6)),
                (3, Ok("abc".into())),
                (4, Err(13))
            ]
        );
    }
}
