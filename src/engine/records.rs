//! The record structure of a CSV file, checked before polars reads it: every record has
//! the header's number of fields, no quoted value runs to the end of the file, and the
//! last record ends with a line end.
//!
//! polars reads a record with fewer fields than the header with nulls in the missing
//! ones, and a null exclusion flag means "not marked": an export cut off in transfer, or
//! one damaged row, would release the records of children whose parents objected.
//!
//! Records are split as polars 0.55 splits them: a field that starts with the quote
//! character runs to the quote that is not doubled; a quote inside a field that does not
//! start with one is a character like any other, and so refused, since polars' line
//! splitter takes it for the start of a quoted value while its field splitter does not.

/// What is wrong with a CSV file's records. Lines count from 1 (the header), counting
/// the line ends inside quoted values, as an editor shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A record with another number of fields than the header.
    Fields {
        line: u64,
        fields: usize,
        header: usize,
    },
    /// A quoted value that no closing quote ends.
    Unclosed { line: u64 },
    /// A quote inside a value that does not start with one.
    StrayQuote { line: u64 },
    /// The last record has no line end: the file may have been cut off.
    NoLineEnd { line: u64 },
    /// An empty line in a file of more than one column: polars reads it as a record
    /// of nulls.
    Empty { line: u64 },
}

impl Problem {
    /// What to tell the user: the line, never a value.
    pub fn describe(&self) -> String {
        match self {
            Self::Fields {
                line,
                fields,
                header,
            } if fields < header => format!(
                "line {line} has {fields} field{} where the header has {header}: the record is incomplete (an export cut off, or a damaged row); a missing exclusion flag would read as \"not marked\", so nothing is read",
                plural(*fields)
            ),
            Self::Fields {
                line,
                fields,
                header,
            } => format!(
                "line {line} has {fields} fields where the header has {header} (a separator inside a value that is not quoted?)"
            ),
            Self::Unclosed { line } => format!(
                "the quoted value that starts on line {line} is never closed: the file is cut off or a quote is missing"
            ),
            Self::StrayQuote { line } => format!(
                "line {line} has a quote inside a value that does not start with one; quote the whole value (\"...\") and double the quotes inside it"
            ),
            Self::Empty { line } => format!(
                "line {line} is empty, which reads as a record without values; remove the empty lines if nothing is missing there"
            ),
            Self::NoLineEnd { line } => format!(
                "the last line (line {line}) has no line end, so the file may be cut off; if it is complete, end it with a line break"
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Check the records of CSV `bytes` (UTF-8, or an encoding that reads ASCII as ASCII),
/// separated by `separator`, with `"` as the quote; a byte order mark at the start is
/// skipped. A file with only a header (or nothing) passes: readers say what is missing.
/// An empty line is refused where the header names more than one column (in a list of
/// one column it is a blank entry, which lists skip).
pub fn check(bytes: &[u8], separator: u8) -> Result<(), Problem> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut at = 0;
    let mut line: u64 = 1;
    let mut header: Option<usize> = None;
    while at < bytes.len() {
        let start_line = line;
        // An empty line (LF, or CRLF).
        let empty = match &bytes[at..] {
            [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            _ => 0,
        };
        if empty > 0 {
            if header.is_some_and(|h| h > 1) {
                return Err(Problem::Empty { line });
            }
            at += empty;
            line += 1;
            continue;
        }
        let mut fields = 1;
        let ended = loop {
            // One field from `at`.
            if bytes.get(at) == Some(&b'"') {
                at += 1;
                loop {
                    let Some(offset) = memchr::memchr2(b'"', b'\n', &bytes[at..]) else {
                        return Err(Problem::Unclosed { line: start_line });
                    };
                    at += offset;
                    if bytes[at] == b'\n' {
                        line += 1;
                        at += 1;
                        continue;
                    }
                    at += 1;
                    if bytes.get(at) == Some(&b'"') {
                        at += 1;
                        continue;
                    }
                    break;
                }
            }
            // The rest of the field (after a closing quote, characters polars keeps).
            match memchr::memchr3(separator, b'\n', b'"', &bytes[at..]) {
                None => {
                    at = bytes.len();
                    break false;
                }
                Some(offset) => {
                    at += offset;
                    match bytes[at] {
                        b'"' => return Err(Problem::StrayQuote { line }),
                        b'\n' => {
                            at += 1;
                            line += 1;
                            break true;
                        }
                        _ => {
                            at += 1;
                            fields += 1;
                        }
                    }
                }
            }
        };
        match header {
            None => header = Some(fields),
            Some(header) if fields != header => {
                return Err(Problem::Fields {
                    line: start_line,
                    fields,
                    header,
                });
            }
            Some(_) => {}
        }
        if !ended && header.is_some() && start_line > 1 {
            return Err(Problem::NoLineEnd { line: start_line });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Problem> {
        super::check(text.as_bytes(), b',')
    }

    #[test]
    fn whole_records_pass() {
        for text in [
            "",
            "a,b,c",
            "a,b,c\n",
            "a,b,c\n1,2,3\n",
            "a,b,c\r\n1,2,3\r\n4,,\r\n",
            "\u{feff}a,b\n1,2\n",
            "a,b\n\"1,5\",\"x\ny\"\n",
            "a,b\n\"say \"\"hi\"\"\",2\n",
            "a\n\n1\n\n",
            "\na,b\n1,2\n",
        ] {
            assert_eq!(check(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn a_short_record_is_refused_by_its_line() {
        assert_eq!(
            check("a,b,c\n1,2,3\n4,5\n6,7,8\n"),
            Err(Problem::Fields {
                line: 3,
                fields: 2,
                header: 3
            })
        );
        // The line counts the line end inside the quoted value before it.
        assert_eq!(
            check("a,b\n\"x\ny\",1\n2\n"),
            Err(Problem::Fields {
                line: 4,
                fields: 1,
                header: 2
            })
        );
    }

    #[test]
    fn a_long_record_is_refused_by_its_line() {
        assert_eq!(
            check("a,b\n1,2,3\n"),
            Err(Problem::Fields {
                line: 2,
                fields: 3,
                header: 2
            })
        );
    }

    #[test]
    fn a_file_cut_off_is_refused() {
        // Cut inside a record, after a separator, and inside a quoted value.
        assert!(matches!(
            check("a,b,objected\n1,2,true\n3,4"),
            Err(Problem::Fields { line: 3, .. })
        ));
        assert_eq!(
            check("a,b,objected\n1,2,true\n3,4,"),
            Err(Problem::NoLineEnd { line: 3 })
        );
        assert_eq!(check("a,b\n1,\"abc"), Err(Problem::Unclosed { line: 2 }));
        // A complete last record without its line end: refused too, since a cut-off
        // flag reads as a value (`true` cut to `` is "not marked").
        assert_eq!(check("a,b\n1,2\n3,4"), Err(Problem::NoLineEnd { line: 3 }));
    }

    #[test]
    fn an_empty_line_is_refused_where_records_have_fields() {
        assert_eq!(check("a,b\n1,2\n\n3,4\n"), Err(Problem::Empty { line: 3 }));
        assert_eq!(check("a,b\r\n1,2\r\n\r\n"), Err(Problem::Empty { line: 3 }));
    }

    #[test]
    fn a_quote_inside_an_unquoted_value_is_refused() {
        assert_eq!(
            check("a,b\n1,2\n3,zei \"nee\"\n"),
            Err(Problem::StrayQuote { line: 3 })
        );
    }

    #[test]
    fn another_separator() {
        assert_eq!(
            super::check(b"a;b\n1;2\n3\n", b';'),
            Err(Problem::Fields {
                line: 3,
                fields: 1,
                header: 2
            })
        );
        assert_eq!(super::check(b"a;b\n1,5;2\n", b';'), Ok(()));
    }
}
