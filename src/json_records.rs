//! Named mechanism: a file of JSON records (the elements of one top-level array, or a stream
//! of values such as NDJSON) cut into each record's bytes, without ever holding more than
//! `max` bytes of one record. A larger record is skipped while it is read (its size is
//! reported, its bytes are not kept), so a hostile file cannot make an import hold a 150 MB
//! string; what is kept is parsed by serde_json, which reports every other defect.

use std::io::BufRead;

/// One record of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// The record's bytes (one JSON value, not yet parsed).
    Record(Vec<u8>),
    /// A record longer than the bound, skipped; how many bytes it had.
    TooLarge(u64),
}

/// Cuts `reader` into records of at most `max` bytes.
pub struct Records<R> {
    reader: R,
    max: usize,
    /// Inside a top-level array (decided by the first byte that is not white space).
    array: Option<bool>,
    /// The array's `]` was read: only white space may follow.
    closed: bool,
    /// Records read so far (for messages).
    count: u64,
}

impl<R: BufRead> Records<R> {
    pub fn new(reader: R, max: usize) -> Self {
        Self {
            reader,
            max,
            array: None,
            closed: false,
            count: 0,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, String> {
        let buf = self.reader.fill_buf().map_err(|e| e.to_string())?;
        Ok(buf.first().copied())
    }

    fn skip_space(&mut self) -> Result<Option<u8>, String> {
        loop {
            let buf = self.reader.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let first = buf[i];
                    self.reader.consume(i);
                    return Ok(Some(first));
                }
                None => {
                    let n = buf.len();
                    self.reader.consume(n);
                }
            }
        }
    }

    /// The next record, `None` at the end of the file; `Err` names what is malformed.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, String> {
        let Some(first) = self.skip_space()? else {
            return match self.array {
                Some(true) if !self.closed => Err("the JSON array is not closed".into()),
                _ => Ok(None),
            };
        };
        let array = match self.array {
            Some(a) => a,
            None => {
                let a = first == b'[';
                self.array = Some(a);
                if a {
                    self.reader.consume(1);
                    if self.skip_space()? == Some(b']') {
                        self.reader.consume(1);
                        self.closed = true;
                    }
                    return self.next_piece();
                }
                a
            }
        };
        if array {
            if self.closed {
                return Err(format!(
                    "unexpected {:?} after the array",
                    char::from(first)
                ));
            }
            if self.count > 0 {
                match first {
                    b',' => {
                        self.reader.consume(1);
                        if self.skip_space()?.is_none() {
                            return Err("the JSON array is not closed".into());
                        }
                    }
                    b']' => {
                        self.reader.consume(1);
                        self.closed = true;
                        return self.next_piece();
                    }
                    other => {
                        return Err(format!(
                            "expected ',' or ']' after record {}, found {:?}",
                            self.count,
                            char::from(other)
                        ));
                    }
                }
            }
        }
        self.count += 1;
        self.value().map(Some)
    }

    /// One JSON value starting at the next byte: its bytes up to `max`, else its size.
    fn value(&mut self) -> Result<Piece, String> {
        let mut kept: Option<Vec<u8>> = Some(Vec::new());
        let mut size = 0u64;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let scalar = !matches!(self.peek()?, Some(b'{' | b'[' | b'"'));
        loop {
            let buf = self.reader.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                // A bare scalar may end the file; anything open may not.
                if scalar && size > 0 {
                    break;
                }
                return Err(format!(
                    "record {} is cut off by the end of the file",
                    self.count
                ));
            }
            let mut used = 0;
            let mut done = false;
            for &b in buf {
                if scalar && !in_string && (b.is_ascii_whitespace() || b"{}[],\"".contains(&b)) {
                    done = true;
                    break;
                }
                used += 1;
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth == 0 {
                            return Err(format!(
                                "record {} has an unmatched {:?}",
                                self.count,
                                char::from(b)
                            ));
                        }
                        depth -= 1;
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            size += used as u64;
            if let Some(k) = kept.as_mut() {
                if k.len() + used > self.max {
                    kept = None;
                } else {
                    k.extend_from_slice(&buf[..used]);
                }
            }
            self.reader.consume(used);
            if done {
                break;
            }
        }
        if size == 0 {
            let at = self.peek()?.map(char::from);
            return Err(format!(
                "record {} starts with an unexpected {at:?}",
                self.count
            ));
        }
        Ok(match kept {
            Some(bytes) => Piece::Record(bytes),
            None => Piece::TooLarge(size),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, max: usize) -> Result<Vec<Piece>, String> {
        let mut r = Records::new(std::io::BufReader::with_capacity(7, text.as_bytes()), max);
        let mut out = Vec::new();
        while let Some(p) = r.next_piece()? {
            out.push(p);
        }
        Ok(out)
    }

    fn rec(s: &str) -> Piece {
        Piece::Record(s.as_bytes().to_vec())
    }

    #[test]
    fn arrays_and_streams_are_cut_into_records() {
        let expected = vec![
            rec(r#"{"a":"x,]}"}"#),
            rec(r#""s\"]""#),
            rec("12"),
            rec("[1,[2]]"),
        ];
        assert_eq!(
            all(r#" [ {"a":"x,]}"} , "s\"]",12,[1,[2]] ] "#, 100).unwrap(),
            expected
        );
        assert_eq!(
            all("{\"a\":\"x,]}\"}\n\"s\\\"]\"\n12\n[1,[2]]\n", 100).unwrap(),
            expected
        );
        assert_eq!(all("[]", 100).unwrap(), vec![]);
        assert_eq!(all("  ", 100).unwrap(), vec![]);
    }

    #[test]
    fn a_record_over_the_bound_is_skipped_and_the_rest_read() {
        let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(1000));
        let text = format!(r#"[{{"a":1}},{big},{{"b":2}}]"#);
        assert_eq!(
            all(&text, 100).unwrap(),
            vec![
                rec(r#"{"a":1}"#),
                Piece::TooLarge(big.len() as u64),
                rec(r#"{"b":2}"#)
            ]
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        for bad in [
            r#"[{"a":1}"#,
            r#"[{"a":1} {"b":2}]"#,
            r#"[{"a":1}],"#,
            r#"{"a":1"#,
            "}",
            "[1,",
            "[1,]",
        ] {
            assert!(all(bad, 100).is_err(), "{bad}");
        }
    }
}
