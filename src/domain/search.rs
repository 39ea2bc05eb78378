//! User search: `q` in the Lucene subset of Auth0's v3 engine, parsed and checked into a typed
//! query (`Query`) that each store compiles to parameterised SQL; and `sort`. Nothing here
//! knows SQL beyond the name of a column and the `LIKE` escape rule.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::user::normalize_identifier;

/// The longest `q` accepted (Auth0 documents none; a query this long is not a search).
pub const MAX_QUERY_LEN: usize = 2048;
/// Most terms, and deepest nesting, in one query: the SQL it compiles to stays small.
const MAX_TERMS: usize = 64;
const MAX_DEPTH: usize = 16;
/// Terms, operators and parentheses together.
const MAX_TOKENS: usize = 256;
const DAY_MS: i64 = 86_400_000;

/// A user column a query can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Email,
    Username,
    Name,
    GivenName,
    FamilyName,
    Nickname,
    Picture,
    Connection,
    LastIp,
    EmailVerified,
    Blocked,
    LoginsCount,
    CreatedAt,
    UpdatedAt,
    LastLogin,
    LastPasswordReset,
    // The tenant log's (`logs` table).
    LogType,
    LogDate,
    LogClientId,
    LogClientName,
    LogUserId,
    LogUserName,
    LogIp,
    LogDescription,
}

/// Which record a `q` searches: the fields and forms each allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    Users,
    /// Log events: exact and wildcard matches on their fields, date ranges; no bare terms.
    Logs,
}

impl Column {
    /// The column's name in the `users` table.
    pub fn sql(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Email => "email",
            Column::Username => "username",
            Column::Name => "name",
            Column::GivenName => "given_name",
            Column::FamilyName => "family_name",
            Column::Nickname => "nickname",
            Column::Picture => "picture",
            Column::Connection => "connection",
            Column::LastIp => "last_ip",
            Column::EmailVerified => "email_verified",
            Column::Blocked => "blocked",
            Column::LoginsCount => "logins_count",
            Column::CreatedAt => "created_at",
            Column::UpdatedAt => "updated_at",
            Column::LastLogin => "last_login",
            Column::LastPasswordReset => "last_password_reset",
            Column::LogType => "type",
            Column::LogDate => "date",
            Column::LogClientId => "client_id",
            Column::LogClientName => "client_name",
            Column::LogUserId => "user_id",
            Column::LogUserName => "user_name",
            Column::LogIp => "ip",
            Column::LogDescription => "description",
        }
    }

    /// Columns compared case-insensitively through `lower(column)`; email and username are
    /// stored in their normalized (lower-case) form and compared as stored.
    pub fn folded(self) -> bool {
        matches!(
            self,
            Column::Name | Column::GivenName | Column::FamilyName | Column::Nickname
        )
    }
}

/// What a text condition compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Column(Column),
    /// A path into `app_metadata` (`app: true`) or `user_metadata`, compared as text
    /// (`true`/`false` for booleans, numbers as written).
    Metadata {
        app: bool,
        path: Vec<String>,
    },
}

/// One condition on a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Equal (for folded columns, `value` is lower-cased and compared with `lower(column)`).
    Eq(Target, String),
    /// A `LIKE` pattern, `\` escaping `%`, `_` and itself.
    Like(Target, String),
    Bool(Column, bool),
    /// Inclusive bounds on an integer column (counts, times in ms).
    Range(Column, Option<i64>, Option<i64>),
    /// Always or never (e.g. `identities.provider:auth0`).
    Const(bool),
    /// A bare term: a `LIKE` pattern tried on email, username and the name fields.
    Any(String),
}

/// A parsed `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    Cond(Cond),
}

/// Why a `q` or `sort` cannot be used; the text is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

fn err<T>(why: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError(why.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// `field:value`, or a bare value (`field` empty).
    Term {
        field: String,
        value: Value,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// Quoted: taken literally.
    Phrase(String),
    /// Unquoted: `*` and `?` are wildcards.
    Word(String),
    Range {
        lo: Option<String>,
        lo_inclusive: bool,
        hi: Option<String>,
        hi_inclusive: bool,
    },
}

fn lex(q: &str) -> Result<Vec<Token>, SearchError> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Token::Open);
                i += 1;
                continue;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
                continue;
            }
            _ => {}
        }
        if c == '"' {
            let (phrase, next) = phrase(&chars, i)?;
            out.push(Token::Term {
                field: String::new(),
                value: Value::Phrase(phrase),
            });
            i = next;
            continue;
        }
        // A word, possibly `field:` followed by a value.
        let start = i;
        let mut word = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                break;
            }
            if c == ':' {
                break;
            }
            if c == '\\' {
                match chars.get(i + 1) {
                    Some(n) => {
                        word.push('\\');
                        word.push(*n);
                        i += 2;
                        continue;
                    }
                    None => return err("a query cannot end with '\\'"),
                }
            }
            word.push(c);
            i += 1;
        }
        if chars.get(i) == Some(&':') {
            let field = word;
            if field.is_empty() || field.contains('\\') {
                return err(format!(
                    "a field name is missing or invalid at {}",
                    start + 1
                ));
            }
            i += 1;
            let (value, next) = field_value(&chars, i)?;
            out.push(Token::Term { field, value });
            i = next;
            continue;
        }
        match word.as_str() {
            "AND" | "&&" => out.push(Token::And),
            "OR" | "||" => out.push(Token::Or),
            "NOT" | "!" => out.push(Token::Not),
            _ => out.push(Token::Term {
                field: String::new(),
                value: Value::Word(word),
            }),
        }
    }
    Ok(out)
}

/// A quoted phrase starting at `chars[at] == '"'`; returns it unescaped and the next index.
fn phrase(chars: &[char], at: usize) -> Result<(String, usize), SearchError> {
    let mut i = at + 1;
    let mut s = String::new();
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((s, i + 1)),
            '\\' if i + 1 < chars.len() => {
                s.push(chars[i + 1]);
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    err("a quoted phrase is not closed")
}

fn field_value(chars: &[char], at: usize) -> Result<(Value, usize), SearchError> {
    match chars.get(at) {
        None => err("a field has no value"),
        Some('"') => {
            let (p, next) = phrase(chars, at)?;
            Ok((Value::Phrase(p), next))
        }
        Some(open @ ('[' | '{')) => {
            let lo_inclusive = *open == '[';
            let mut i = at + 1;
            let mut body = String::new();
            while i < chars.len() && chars[i] != ']' && chars[i] != '}' {
                body.push(chars[i]);
                i += 1;
            }
            let Some(close) = chars.get(i) else {
                return err("a range is not closed");
            };
            let hi_inclusive = *close == ']';
            let parts: Vec<&str> = body.split_whitespace().collect();
            let [lo, "TO", hi] = parts.as_slice() else {
                return err("a range must read [low TO high]");
            };
            let bound = |b: &str| (b != "*").then(|| b.trim_matches('"').to_owned());
            Ok((
                Value::Range {
                    lo: bound(lo),
                    lo_inclusive,
                    hi: bound(hi),
                    hi_inclusive,
                },
                i + 1,
            ))
        }
        Some(c) if c.is_whitespace() || *c == ')' || *c == '(' => err("a field has no value"),
        Some(_) => {
            let mut i = at;
            let mut w = String::new();
            while i < chars.len() {
                let c = chars[i];
                if c.is_whitespace() || c == ')' || c == '(' {
                    break;
                }
                if c == '\\' {
                    match chars.get(i + 1) {
                        Some(n) => {
                            w.push('\\');
                            w.push(*n);
                            i += 2;
                            continue;
                        }
                        None => return err("a query cannot end with '\\'"),
                    }
                }
                w.push(c);
                i += 1;
            }
            Ok((Value::Word(w), i))
        }
    }
}

/// Parses and checks a user search's `q`.
pub fn parse(q: &str) -> Result<Query, SearchError> {
    parse_in(q, Fields::Users)
}

/// Parses and checks `q` over `fields`.
pub fn parse_in(q: &str, fields: Fields) -> Result<Query, SearchError> {
    if q.len() > MAX_QUERY_LEN {
        return err(format!(
            "the query is longer than {MAX_QUERY_LEN} characters"
        ));
    }
    let tokens = lex(q)?;
    if tokens.is_empty() {
        return err("the query is empty");
    }
    let terms = tokens
        .iter()
        .filter(|t| matches!(t, Token::Term { .. }))
        .count();
    if terms > MAX_TERMS {
        return err(format!("the query has more than {MAX_TERMS} terms"));
    }
    // Operators and parentheses too: the whole expression's size is bounded, not only its
    // terms.
    if tokens.len() > MAX_TOKENS {
        return err(format!(
            "the query has more than {MAX_TOKENS} terms and operators"
        ));
    }
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        fields,
    };
    let query = p.or()?;
    if p.at != p.tokens.len() {
        return err("unexpected ')'");
    }
    Ok(query)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    fields: Fields,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    /// Terms side by side without an operator are alternatives, as Lucene's default.
    fn or(&mut self) -> Result<Query, SearchError> {
        let mut parts = vec![self.and()?];
        loop {
            match self.peek() {
                Some(Token::Or) => {
                    self.at += 1;
                    parts.push(self.and()?);
                }
                Some(Token::Close) | None => break,
                Some(_) => parts.push(self.and()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Query, SearchError> {
        let mut parts = vec![self.unary()?];
        while let Some(Token::And) = self.peek() {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Query, SearchError> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Not) => {
                // Each NOT nests the expression one deeper, like a group: a chain of them
                // is bounded by the same depth (SQLite refuses very deep expression trees).
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return err(format!(
                        "groups and NOTs are nested deeper than {MAX_DEPTH}"
                    ));
                }
                self.at += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            Some(Token::Open) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return err(format!(
                        "groups and NOTs are nested deeper than {MAX_DEPTH}"
                    ));
                }
                self.at += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return err("a '(' is not closed");
                }
                self.at += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Some(Token::Term { field, value }) => {
                self.at += 1;
                Ok(Query::Cond(match self.fields {
                    Fields::Users => condition(&field, value)?,
                    Fields::Logs => log_condition(&field, value)?,
                }))
            }
            Some(Token::Close) => err("unexpected ')'"),
            Some(Token::And | Token::Or) => err("an operator has nothing on its left"),
            None => err("the query ends after an operator"),
        }
    }
}

/// Unescapes a word and says whether it has wildcards (an escaped `*` is literal).
fn word_pattern(w: &str) -> (String, bool) {
    let mut like = String::new();
    let mut wild = false;
    let mut chars = w.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    push_literal(&mut like, n);
                }
            }
            '*' => {
                wild = true;
                like.push('%');
            }
            '?' => {
                wild = true;
                like.push('_');
            }
            c => push_literal(&mut like, c),
        }
    }
    (like, wild)
}

fn push_literal(like: &mut String, c: char) {
    if matches!(c, '%' | '_' | '\\') {
        like.push('\\');
    }
    like.push(c);
}

/// A word without its escapes.
fn unescape(w: &str) -> String {
    let mut out = String::new();
    let mut chars = w.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Literal characters of a LIKE pattern (wildcards and escapes left out).
fn literal_len(like: &str) -> usize {
    let mut n = 0;
    let mut chars = like.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => {}
            '\\' => {
                chars.next();
                n += 1;
            }
            _ => n += 1,
        }
    }
    n
}

fn column(field: &str) -> Option<Column> {
    Some(match field {
        "user_id" | "identities.user_id" => Column::Id,
        "email" => Column::Email,
        "username" => Column::Username,
        "name" => Column::Name,
        "given_name" => Column::GivenName,
        "family_name" => Column::FamilyName,
        "nickname" => Column::Nickname,
        "picture" => Column::Picture,
        "identities.connection" => Column::Connection,
        "last_ip" => Column::LastIp,
        "email_verified" => Column::EmailVerified,
        "blocked" => Column::Blocked,
        "logins_count" => Column::LoginsCount,
        "created_at" => Column::CreatedAt,
        "updated_at" => Column::UpdatedAt,
        "last_login" => Column::LastLogin,
        "last_password_reset" => Column::LastPasswordReset,
        _ => return None,
    })
}

fn log_column(field: &str) -> Option<Column> {
    Some(match field {
        "type" => Column::LogType,
        "date" => Column::LogDate,
        "client_id" => Column::LogClientId,
        "client_name" => Column::LogClientName,
        "user_id" => Column::LogUserId,
        "user_name" => Column::LogUserName,
        "ip" => Column::LogIp,
        "connection" => Column::Connection,
        "description" => Column::LogDescription,
        _ => return None,
    })
}

fn log_condition(field: &str, value: Value) -> Result<Cond, SearchError> {
    if field.is_empty() {
        return err("a log search names a field (type, date, user_id, client_id, ip, …)");
    }
    let field = field.strip_suffix(".raw").unwrap_or(field);
    let Some(col) = log_column(field) else {
        return err(format!(
            "'{field}' is not a searchable field of a log event"
        ));
    };
    column_condition(col, field, value)
}

fn condition(field: &str, value: Value) -> Result<Cond, SearchError> {
    if field.is_empty() {
        return match value {
            Value::Phrase(p) => Ok(Cond::Any(format!("%{}%", like_literal(&p.to_lowercase())))),
            Value::Word(w) => {
                let (like, wild) = word_pattern(&w.to_lowercase());
                if wild {
                    Ok(Cond::Any(like))
                } else {
                    Ok(Cond::Any(format!("%{like}%")))
                }
            }
            Value::Range { .. } => err("a range needs a field"),
        };
    }
    let field = field.strip_suffix(".raw").unwrap_or(field);
    match field {
        "identities.provider" => {
            return Ok(Cond::Const(text_of(&value)? == "auth0"));
        }
        "identities.isSocial" => {
            return Ok(Cond::Const(!boolean(&text_of(&value)?)?));
        }
        _ => {}
    }
    for (prefix, app) in [("app_metadata.", true), ("user_metadata.", false)] {
        if let Some(path) = field.strip_prefix(prefix) {
            let path: Vec<String> = path.split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) {
                return err(format!("'{field}' is not a metadata path"));
            }
            let target = Target::Metadata { app, path };
            return match value {
                Value::Phrase(p) => Ok(Cond::Eq(target, p)),
                Value::Word(w) => {
                    let (like, wild) = word_pattern(&w);
                    if !wild {
                        Ok(Cond::Eq(target, unescape(&w)))
                    } else if !app {
                        err("wildcards are not supported on user_metadata")
                    } else {
                        wildcard(target, like)
                    }
                }
                Value::Range { .. } => err(format!("ranges are not supported on {prefix}")),
            };
        }
    }
    let Some(col) = column(field) else {
        return err(format!("'{field}' is not a searchable field"));
    };
    column_condition(col, field, value)
}

fn column_condition(col: Column, field: &str, value: Value) -> Result<Cond, SearchError> {
    match col {
        Column::EmailVerified | Column::Blocked => Ok(Cond::Bool(col, boolean(&text_of(&value)?)?)),
        Column::LoginsCount => {
            let int = |s: &str| {
                s.parse::<i64>()
                    .map_err(|_| SearchError(format!("'{s}' is not a number of logins")))
            };
            match value {
                Value::Range {
                    lo,
                    lo_inclusive,
                    hi,
                    hi_inclusive,
                } => {
                    let lo = lo.as_deref().map(int).transpose()?;
                    let hi = hi.as_deref().map(int).transpose()?;
                    Ok(Cond::Range(
                        col,
                        lo.map(|n| if lo_inclusive { n } else { n.saturating_add(1) }),
                        hi.map(|n| if hi_inclusive { n } else { n.saturating_sub(1) }),
                    ))
                }
                v => {
                    let n = int(&text_of(&v)?)?;
                    Ok(Cond::Range(col, Some(n), Some(n)))
                }
            }
        }
        Column::CreatedAt
        | Column::UpdatedAt
        | Column::LastLogin
        | Column::LastPasswordReset
        | Column::LogDate => match value {
            Value::Range {
                lo,
                lo_inclusive,
                hi,
                hi_inclusive,
            } => {
                let lo = match lo {
                    None => None,
                    Some(s) => {
                        let (start, end) = instant(&s)?;
                        Some(if lo_inclusive { start } else { end + 1 })
                    }
                };
                let hi = match hi {
                    None => None,
                    Some(s) => {
                        let (start, end) = instant(&s)?;
                        Some(if hi_inclusive { end } else { start - 1 })
                    }
                };
                Ok(Cond::Range(col, lo, hi))
            }
            v => {
                let (start, end) = instant(&text_of(&v)?)?;
                Ok(Cond::Range(col, Some(start), Some(end)))
            }
        },
        _ => {
            let fold = |s: &str| match col {
                Column::Email | Column::Username => normalize_identifier(s),
                c if c.folded() => s.to_lowercase(),
                _ => s.to_owned(),
            };
            let target = Target::Column(col);
            match value {
                Value::Phrase(p) => text_eq(col, target, fold(&p)),
                Value::Word(w) => {
                    let (like, wild) = word_pattern(&w);
                    if wild {
                        let like = if col == Column::Id {
                            like.strip_prefix("auth0|")
                                .map(str::to_owned)
                                .unwrap_or(like)
                        } else {
                            like
                        };
                        wildcard(target, fold(&like))
                    } else {
                        text_eq(col, target, fold(&unescape(&w)))
                    }
                }
                Value::Range { .. } => err(format!(
                    "ranges are supported on counts and dates, not on {field}"
                )),
            }
        }
    }
}

/// `user_id:"auth0|x"` names stored id `x`; any other provider's id matches nobody here.
fn text_eq(col: Column, target: Target, value: String) -> Result<Cond, SearchError> {
    if col == Column::Id && value.contains('|') {
        return Ok(match value.strip_prefix("auth0|") {
            Some(id) => Cond::Eq(target, id.to_owned()),
            None => Cond::Const(false),
        });
    }
    Ok(Cond::Eq(target, value))
}

fn wildcard(target: Target, like: String) -> Result<Cond, SearchError> {
    if (like.starts_with('%') || like.starts_with('_')) && literal_len(&like) < 3 {
        return err("a leading wildcard needs at least 3 other characters");
    }
    Ok(Cond::Like(target, like))
}

fn like_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        push_literal(&mut out, c);
    }
    out
}

fn text_of(v: &Value) -> Result<String, SearchError> {
    match v {
        Value::Phrase(p) => Ok(p.clone()),
        Value::Word(w) => Ok(unescape(w)),
        Value::Range { .. } => err("a range is not supported here"),
    }
}

fn boolean(s: &str) -> Result<bool, SearchError> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => err(format!("'{s}' is not true or false")),
    }
}

/// The first and last millisecond a date (a whole UTC day) or a timestamp names.
fn instant(s: &str) -> Result<(i64, i64), SearchError> {
    let bad = || SearchError(format!("'{s}' is not a date (YYYY-MM-DD or ISO 8601)"));
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        let start = d.midnight().assume_utc().unix_timestamp() * 1000;
        return Ok((start, start + DAY_MS - 1));
    }
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| {
            PrimitiveDateTime::parse(
                s,
                format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
            )
            .map(PrimitiveDateTime::assume_utc)
        })
        .map_err(|_| bad())?;
    let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((ms, ms))
}

/// A `sort` of the users list: a column and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

/// Parses `field:1` or `field:-1`.
pub fn parse_sort(s: &str) -> Result<Sort, SearchError> {
    let Some((field, dir)) = s.rsplit_once(':') else {
        return err("sort must read field:1 or field:-1");
    };
    let descending = match dir {
        "1" => false,
        "-1" => true,
        _ => return err("sort must read field:1 or field:-1"),
    };
    let column = match column(field) {
        Some(c) if !matches!(c, Column::EmailVerified | Column::Blocked) => c,
        _ => return err(format!("'{field}' cannot be sorted on")),
    };
    Ok(Sort { column, descending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(c: Column, v: &str) -> Query {
        Query::Cond(Cond::Eq(Target::Column(c), v.into()))
    }

    #[test]
    fn exact_fields_and_user_ids() {
        assert_eq!(
            parse(r#"email:"Jane@Example.com""#).unwrap(),
            eq(Column::Email, "jane@example.com")
        );
        assert_eq!(
            parse(r#"user_id:"auth0|abc""#).unwrap(),
            eq(Column::Id, "abc")
        );
        assert_eq!(
            parse(r#"user_id:"google-oauth2|1""#).unwrap(),
            Query::Cond(Cond::Const(false))
        );
        assert_eq!(parse("name:Jo").unwrap(), eq(Column::Name, "jo"));
        assert_eq!(
            parse("email.raw:a@b.c").unwrap(),
            eq(Column::Email, "a@b.c")
        );
    }

    #[test]
    fn operators_groups_and_precedence() {
        let q = parse("a:1 OR b:2 AND NOT c:3");
        assert!(q.is_err(), "unknown fields are refused");
        let q = parse(r#"(email:"x" OR name:y) AND NOT blocked:true"#).unwrap();
        assert_eq!(
            q,
            Query::And(vec![
                Query::Or(vec![eq(Column::Email, "x"), eq(Column::Name, "y")]),
                Query::Not(Box::new(Query::Cond(Cond::Bool(Column::Blocked, true)))),
            ])
        );
        // Side by side: alternatives.
        assert_eq!(
            parse("name:a name:b").unwrap(),
            Query::Or(vec![eq(Column::Name, "a"), eq(Column::Name, "b")])
        );
    }

    #[test]
    fn metadata_paths_quoted_or_not() {
        assert_eq!(
            parse("app_metadata.plan.tier:pro").unwrap(),
            Query::Cond(Cond::Eq(
                Target::Metadata {
                    app: true,
                    path: vec!["plan".into(), "tier".into()]
                },
                "pro".into()
            ))
        );
        assert!(parse("user_metadata.x:ab*").is_err());
        assert!(parse("user_metadata.x:[1 TO 2]").is_err());
        assert!(parse("app_metadata..x:1").is_err());
    }

    #[test]
    fn ranges_dates_and_counts() {
        assert_eq!(
            parse("logins_count:{0 TO *]").unwrap(),
            Query::Cond(Cond::Range(Column::LoginsCount, Some(1), None))
        );
        let day = 1_704_067_200_000; // 2024-01-01
        assert_eq!(
            parse("created_at:[2024-01-01 TO *]").unwrap(),
            Query::Cond(Cond::Range(Column::CreatedAt, Some(day), None))
        );
        assert_eq!(
            parse("last_login:[* TO 2024-01-01]").unwrap(),
            Query::Cond(Cond::Range(Column::LastLogin, None, Some(day + DAY_MS - 1)))
        );
        assert_eq!(
            parse("created_at:{* TO 2024-01-01}").unwrap(),
            Query::Cond(Cond::Range(Column::CreatedAt, None, Some(day - 1)))
        );
        assert!(parse("created_at:[yesterday TO *]").is_err());
        assert!(parse("email:[a TO b]").is_err());
    }

    #[test]
    fn wildcards_and_bare_terms() {
        assert_eq!(
            parse("name:jo*").unwrap(),
            Query::Cond(Cond::Like(Target::Column(Column::Name), "jo%".into()))
        );
        assert_eq!(
            parse("email:*@example.com").unwrap(),
            Query::Cond(Cond::Like(
                Target::Column(Column::Email),
                "%@example.com".into()
            ))
        );
        assert!(parse("email:*ab").is_err(), "suffix needs 3 characters");
        assert_eq!(
            parse("name:100%*").unwrap(),
            Query::Cond(Cond::Like(Target::Column(Column::Name), "100\\%%".into()))
        );
        assert_eq!(
            parse("Jane").unwrap(),
            Query::Cond(Cond::Any("%jane%".into()))
        );
    }

    #[test]
    fn malformed_queries_are_errors_not_panics() {
        for q in [
            "",
            "(",
            ")",
            "email:",
            "email:\"x",
            "AND",
            "a AND",
            "NOT",
            "((((",
            "email:x)",
            "created_at:[1 TO",
            "x\\",
            ":x",
            "blocked:maybe",
            "logins_count:many",
            "identities.isSocial:x",
            "created_at:[a b]",
        ] {
            assert!(parse(q).is_err(), "{q:?}");
        }
        assert!(parse(&"a".repeat(MAX_QUERY_LEN + 1)).is_err());
        assert!(parse(&"(".repeat(40)).is_err());
        assert!(parse(&vec!["name:a"; 65].join(" OR ")).is_err());
    }

    #[test]
    fn sorts() {
        assert_eq!(
            parse_sort("created_at:-1").unwrap(),
            Sort {
                column: Column::CreatedAt,
                descending: true
            }
        );
        assert!(parse_sort("created_at").is_err());
        assert!(parse_sort("password:1").is_err());
        assert!(parse_sort("email:2").is_err());
    }
}
