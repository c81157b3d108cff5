//! Which variables a condition reads from the event context, with CEL's scoping.
//!
//! The comprehension macros (`all`, `exists`, `exists_one`, `map`, `filter`) bind a
//! variable for their body only: in `items.exists(p, p.cidrIp == "0.0.0.0/0")` the `p`
//! is an element of `items`, not a variable of the event, and outside the macro it means
//! nothing. The `cel` crate's own `references()` lists every identifier wherever it
//! stands, so a condition that used a macro looked like it read an unknown variable `p`.
//! Here the expanded expression is walked with the names each macro binds in scope,
//! following CEL's rules: the range and the initial accumulator are outside the macro,
//! the loop condition and step see the element and the accumulator, the result only the
//! accumulator; an inner macro may rebind a name (the innermost wins), and a macro may
//! rebind a context variable (`event`, `detail`, …) inside its body.

use std::collections::BTreeMap;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, SourceInfo};

/// A 1-based position in a condition's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What a condition reads from outside every macro, and what its macros bind.
#[derive(Debug, Default)]
pub(super) struct Scoped {
    /// Each name read where no macro binds it, once, at its first position in the source.
    pub free: Vec<(String, Option<Position>)>,
    /// Each name a macro binds, with where the first such macro is written: to tell a
    /// reader that a name they used outside its macro is bound only inside it.
    pub bound: BTreeMap<String, Option<Position>>,
}

/// Walks `expr` (a parsed program) with macro scopes.
pub(super) fn analyze(expr: &IdedExpr, info: &SourceInfo) -> Scoped {
    let mut walk = Walk {
        info,
        in_scope: Vec::new(),
        free: BTreeMap::new(),
        bound: BTreeMap::new(),
    };
    walk.expr(expr);
    let mut free: Vec<(String, Option<Position>)> = walk.free.into_iter().collect();
    // Source order, as a compiler reports; names without a position last.
    free.sort_by_key(|(name, at)| (at.is_none(), *at, name.clone()));
    Scoped {
        free,
        bound: walk.bound,
    }
}

struct Walk<'a> {
    info: &'a SourceInfo,
    /// The names bound by the macros around the current node, innermost last.
    in_scope: Vec<&'a str>,
    free: BTreeMap<String, Option<Position>>,
    bound: BTreeMap<String, Option<Position>>,
}

impl<'a> Walk<'a> {
    fn expr(&mut self, e: &'a IdedExpr) {
        match &e.expr {
            Expr::Ident(name) => {
                if !self.in_scope.contains(&name.as_str()) {
                    let at = position(self.info, e.id);
                    let first = self.free.entry(name.clone()).or_insert(at);
                    // The walk is not in source order (a macro's range comes first).
                    if at.is_some() && (first.is_none() || at < *first) {
                        *first = at;
                    }
                }
            }
            Expr::Comprehension(c) => {
                // Outside the macro: what it iterates over and where its accumulator starts.
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let mut names = vec![c.iter_var.as_str()];
                names.extend(c.iter_var2.as_deref());
                for name in &names {
                    if !self.bound.contains_key(*name) {
                        let at = binding_position(self.info, e.id, name);
                        self.bound.insert((*name).to_owned(), at);
                    }
                }
                let depth = self.in_scope.len();
                self.in_scope.extend(names);
                self.in_scope.push(&c.accu_var);
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.in_scope.truncate(depth);
                self.in_scope.push(&c.accu_var);
                self.expr(&c.result);
                self.in_scope.truncate(depth);
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                for arg in &call.args {
                    self.expr(arg);
                }
            }
            Expr::Select(select) => self.expr(&select.operand),
            Expr::List(list) => {
                for element in &list.elements {
                    self.expr(element);
                }
            }
            Expr::Map(map) => self.entries(map.entries.iter().map(|e| &e.expr)),
            Expr::Struct(s) => self.entries(s.entries.iter().map(|e| &e.expr)),
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn entries(&mut self, entries: impl Iterator<Item = &'a EntryExpr>) {
        for entry in entries {
            match entry {
                EntryExpr::StructField(field) => self.expr(&field.value),
                EntryExpr::MapEntry(entry) => {
                    self.expr(&entry.key);
                    self.expr(&entry.value);
                }
            }
        }
    }
}

/// Where node `id` starts, from the parser's offsets (bytes into the source).
fn position(info: &SourceInfo, id: u64) -> Option<Position> {
    let (start, _) = info.offset_for(id)?;
    position_of(&info.source, usize::try_from(start).ok()?)
}

/// Where the variable `name` a macro binds is written: the macro node's offset is its
/// opening parenthesis, and the name follows it (`exists(p, …)`).
fn binding_position(info: &SourceInfo, id: u64, name: &str) -> Option<Position> {
    let (start, _) = info.offset_for(id)?;
    let start = usize::try_from(start).ok()?;
    let after = info.source.get(start..)?;
    let skipped = after.len() - after.trim_start_matches(['(', ' ', '\t', '\n', '\r']).len();
    let offset = if after[skipped..].starts_with(name) {
        start + skipped
    } else {
        start
    };
    position_of(&info.source, offset)
}

/// The 1-based line and column (in characters) of byte `offset` of `source`.
fn position_of(source: &str, offset: usize) -> Option<Position> {
    let before = source.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Some(Position { line, column })
}
