//! The IAM credential report (GetCredentialReport's `Content`, base64-decoded): CSV with a
//! header line, one line per user and one for the root user (`<root_account>`).
//!
//! Parsed by hand (RFC 4180: commas, double-quoted fields with `""` escapes, `\n` or
//! `\r\n` line ends): the report's values never need more, and no CSV crate is in the
//! workspace. Columns are found by their header name, so AWS adding a column changes
//! nothing; a column the checks need that is missing is an error naming it.

/// The root user's `user` value.
pub const ROOT_USER: &str = "<root_account>";

/// One user's line, with the columns the checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUser {
    pub user: String,
    pub arn: String,
    /// `true`, `false`, or `not_supported` (root).
    pub password_enabled: String,
    pub mfa_active: String,
    pub access_keys: [ReportKey; 2],
}

/// One of a user's two access key slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKey {
    /// 1 or 2: the column group it came from.
    pub slot: u8,
    pub active: bool,
    /// ISO 8601, or `N/A` when the slot never held a key.
    pub last_rotated: String,
    /// ISO 8601, or `N/A` when the key was never used.
    pub last_used_date: String,
}

impl ReportUser {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_USER
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("the credential report is empty (no header line)")]
    Empty,
    #[error("the credential report has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("line {line} of the credential report: {message}")]
    Line { line: usize, message: String },
}

/// The report's users, in report order.
pub fn parse(text: &str) -> Result<Vec<ReportUser>, ReportError> {
    let records = records(text)?;
    let mut lines = records.into_iter();
    let (_, header) = lines.next().ok_or(ReportError::Empty)?;
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(ReportError::MissingColumn(name))
    };
    let user = col("user")?;
    let arn = col("arn")?;
    let password_enabled = col("password_enabled")?;
    let mfa_active = col("mfa_active")?;
    let key_cols = |n: u8| -> Result<[usize; 3], ReportError> {
        let name = |suffix: &str| -> &'static str {
            match (n, suffix) {
                (1, "active") => "access_key_1_active",
                (1, "rotated") => "access_key_1_last_rotated",
                (1, _) => "access_key_1_last_used_date",
                (_, "active") => "access_key_2_active",
                (_, "rotated") => "access_key_2_last_rotated",
                _ => "access_key_2_last_used_date",
            }
        };
        Ok([
            col(name("active"))?,
            col(name("rotated"))?,
            col(name("used"))?,
        ])
    };
    let (k1, k2) = (key_cols(1)?, key_cols(2)?);
    lines
        .filter(|(_, fields)| !(fields.len() == 1 && fields[0].is_empty()))
        .map(|(line, fields)| {
            let get = |i: usize| {
                fields.get(i).cloned().ok_or_else(|| ReportError::Line {
                    line,
                    message: format!("{} fields, the header has {}", fields.len(), header.len()),
                })
            };
            let key = |slot: u8, [a, r, u]: [usize; 3]| -> Result<ReportKey, ReportError> {
                Ok(ReportKey {
                    slot,
                    active: get(a)? == "true",
                    last_rotated: get(r)?,
                    last_used_date: get(u)?,
                })
            };
            Ok(ReportUser {
                user: get(user)?,
                arn: get(arn)?,
                password_enabled: get(password_enabled)?,
                mfa_active: get(mfa_active)?,
                access_keys: [key(1, k1)?, key(2, k2)?],
            })
        })
        .collect()
}

/// RFC 4180 records with the (1-based) line each starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ReportError> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start = 1usize;
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(ReportError::Line {
            line: start,
            message: "a quoted field is not closed".into(),
        });
    }
    if any {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    #[test]
    fn a_real_report_is_read_by_column_name() {
        let text = format!(
            "{HEADER}\r\n<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T10:00:00+00:00,not_supported,not_supported,false,true,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\r\nalice,arn:aws:iam::111122223333:user/alice,2024-05-01T00:00:00+00:00,true,no_information,2024-05-01T00:00:00+00:00,N/A,true,true,2024-05-01T00:00:00+00:00,2026-11-30T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\r\n"
        );
        let users = parse(&text).unwrap_or_default();
        assert_eq!(users.len(), 2);
        assert!(users[0].is_root());
        assert_eq!(users[0].mfa_active, "false");
        assert!(users[0].access_keys[0].active);
        assert_eq!(users[1].user, "alice");
        assert_eq!(users[1].password_enabled, "true");
        assert_eq!(
            users[1].access_keys[0].last_used_date,
            "2026-11-30T00:00:00+00:00"
        );
        assert_eq!(users[1].access_keys[1].slot, 2);
        assert!(!users[1].access_keys[1].active);
    }

    #[test]
    fn quoted_fields_and_reordered_columns_are_read() {
        let text = "mfa_active,user,\"arn\",password_enabled,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,new_column\nfalse,\"bob \"\"the\"\" builder\",arn:aws:iam::1:user/bob,true,false,N/A,N/A,false,N/A,N/A,\"a,b\"";
        let users = parse(text).unwrap_or_default();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].user, "bob \"the\" builder");
        assert_eq!(users[0].arn, "arn:aws:iam::1:user/bob");
        assert_eq!(users[0].mfa_active, "false");
    }

    #[test]
    fn a_broken_report_says_what_is_wrong() {
        assert_eq!(parse(""), Err(ReportError::Empty));
        assert_eq!(
            parse("user,arn\nalice,arn"),
            Err(ReportError::MissingColumn("password_enabled"))
        );
        let short = format!("{HEADER}\nalice,arn:aws:iam::1:user/alice\n");
        assert!(
            matches!(parse(&short), Err(ReportError::Line { line: 2, .. })),
            "{:?}",
            parse(&short)
        );
        let open = format!("{HEADER}\n\"alice,");
        assert!(matches!(parse(&open), Err(ReportError::Line { .. })));
    }
}
