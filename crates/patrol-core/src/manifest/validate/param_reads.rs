//! What a rule's conditions, suppressions, message and dedup key read from `params`:
//! each `params.NAME`, whether it may be absent (`has(...)`), and the typed condition
//! argument it is passed to ([`CONDITION_ARGUMENTS`]), so `params` can type and require them.

use std::ops::Range;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};

use super::span;
use crate::manifest::params::{CONDITION_ARGUMENTS, TypedArgument};
use crate::manifest::raw::{RawRule, Str};

/// One place a rule's condition or template reads `params.NAME`.
#[derive(Debug, Clone)]
pub(super) struct Read {
    pub name: String,
    /// Inside `has(...)`: the parameter may be absent.
    pub optional: bool,
    /// Passed to a condition function whose argument is typed.
    pub argument: Option<&'static TypedArgument>,
    /// What reads it (`the condition`, `the message`), for messages.
    pub what: &'static str,
    /// The expression or template that reads it.
    pub at: Range<usize>,
}

/// What a rule's conditions and templates read from `params`.
#[derive(Debug, Default)]
pub(super) struct Reads {
    pub reads: Vec<Read>,
    /// Something reads `params` whole (`{{ params }}`, `params[name]`): which names it
    /// uses cannot be known.
    pub whole: bool,
}

impl Reads {
    /// What a rule's conditions, suppressions, message and dedup key read.
    pub fn of(rule: &RawRule) -> Reads {
        let mut reads = Reads::default();
        if let Some(c) = &rule.condition {
            reads.condition(c, "the condition");
        }
        for s in rule.suppress.iter().flatten() {
            if let Some(c) = &s.get_ref().condition {
                reads.condition(c, "a suppression's condition");
            }
        }
        if let Some(m) = &rule.message {
            reads.template(m, "the message");
        }
        if let Some(k) = rule.dedup.as_ref().and_then(|d| d.get_ref().key.as_ref()) {
            reads.template(k, "the dedup key");
        }
        reads
    }

    /// A condition that does not compile reads nothing here (its error is reported apart).
    fn condition(&mut self, source: &Str, what: &'static str) {
        if let Ok(program) = cel::Program::compile(source.get_ref()) {
            self.walk(program.expression(), what, &span(source), None);
        }
    }

    fn walk(
        &mut self,
        e: &IdedExpr,
        what: &'static str,
        at: &Range<usize>,
        argument: Option<&'static TypedArgument>,
    ) {
        if let Some((name, optional)) = param_read(e) {
            self.reads.push(Read {
                name,
                optional,
                argument,
                what,
                at: at.clone(),
            });
            return;
        }
        match &e.expr {
            Expr::Ident(name) if name == "params" => self.whole = true,
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target, what, at, None);
                }
                for (i, arg) in call.args.iter().enumerate() {
                    let typed = CONDITION_ARGUMENTS.iter().find(|a| {
                        call.target.is_none() && a.function == call.func_name && a.index == i
                    });
                    self.walk(arg, what, at, typed);
                }
            }
            Expr::Select(select) => self.walk(&select.operand, what, at, None),
            Expr::Comprehension(c) => {
                // The range and the initial accumulator are outside the macro.
                self.walk(&c.iter_range, what, at, None);
                self.walk(&c.accu_init, what, at, None);
                // A macro that binds `params` (`xs.exists(params, params.x == 1)`) hides
                // the rule's params in its body: `params.x` there is the element's field.
                let binds_params =
                    c.iter_var == "params" || c.iter_var2.as_deref() == Some("params");
                if !binds_params {
                    self.walk(&c.loop_cond, what, at, None);
                    self.walk(&c.loop_step, what, at, None);
                }
                self.walk(&c.result, what, at, None);
            }
            Expr::List(list) => {
                for el in &list.elements {
                    self.walk(el, what, at, None);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        cel::common::ast::EntryExpr::StructField(f) => {
                            self.walk(&f.value, what, at, None)
                        }
                        cel::common::ast::EntryExpr::MapEntry(m) => {
                            self.walk(&m.key, what, at, None);
                            self.walk(&m.value, what, at, None);
                        }
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value, what, at, None);
                    }
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    /// A template that does not parse reads nothing here (its error is reported apart).
    fn template(&mut self, source: &Str, what: &'static str) {
        let env = minijinja::Environment::new();
        let Ok(t) = env.template_from_str(source.get_ref()) else {
            return;
        };
        let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
        names.sort();
        for v in names {
            let mut parts = v.split('.');
            if parts.next() != Some("params") {
                continue;
            }
            match parts.next() {
                Some(name) => self.reads.push(Read {
                    name: name.to_owned(),
                    optional: false,
                    argument: None,
                    what,
                    at: span(source),
                }),
                None => self.whole = true,
            }
        }
    }
}

/// `params.NAME`, `has(params.NAME)` or `params["NAME"]`: the name, and whether it is
/// inside `has(...)`.
fn param_read(e: &IdedExpr) -> Option<(String, bool)> {
    let is_params = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == "params");
    match &e.expr {
        Expr::Select(s) if is_params(&s.operand) => Some((s.field.clone(), s.test)),
        Expr::Call(c) if c.func_name == operators::INDEX && c.target.is_none() => {
            match c.args.as_slice() {
                [p, key] if is_params(p) => match &key.expr {
                    Expr::Literal(LiteralValue::String(s)) => Some((s.to_string(), false)),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// Where `params.NAME` (or `params["NAME"]`, `params['NAME']`) first appears in the
/// manifest's text inside `at`, so the caret points at it; `at` when it is not found
/// there (an escape sequence in a basic string).
pub(super) fn narrow(text: &str, at: &Range<usize>, name: &str) -> Range<usize> {
    let Some(inside) = text.get(at.clone()) else {
        return at.clone();
    };
    let forms = [
        format!("params.{name}"),
        format!("params[\"{name}\"]"),
        format!("params['{name}']"),
    ];
    let found = forms.iter().find_map(|f| {
        inside.match_indices(f.as_str()).find_map(|(i, m)| {
            // `params.owner` inside `params.owners` is not it.
            let next = inside[i + m.len()..].chars().next();
            (!next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')).then_some((i, m.len()))
        })
    });
    match found {
        Some((i, len)) => (at.start + i)..(at.start + i + len),
        None => at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::params::ParamType;

    fn reads(condition: &str) -> Reads {
        let mut r = Reads::default();
        r.condition(&Str::new(0..1, condition.to_owned()), "the condition");
        r
    }

    #[test]
    fn condition_reads_are_found_and_typed_by_the_function_they_are_passed_to() {
        let r = reads(
            r#"policy_grants(detail.p, params.actions, params.targets) && size(policy_external_accounts(detail.p, params["trusted"])) > 0 && (!has(params.maybe) || params.maybe) && params.list.exists(x, x == actor)"#,
        );
        let got: Vec<(&str, bool, Option<ParamType>)> = r
            .reads
            .iter()
            .map(|x| (x.name.as_str(), x.optional, x.argument.map(|a| a.ty)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("actions", false, Some(ParamType::StringList)),
                ("targets", false, Some(ParamType::ArnGlobs)),
                ("trusted", false, Some(ParamType::AccountIds)),
                ("maybe", true, None),
                ("maybe", false, None),
                ("list", false, None),
            ]
        );
        assert!(!r.whole);
        assert!(reads("size(params) > 0").whole);
    }

    #[test]
    fn template_reads_are_found() {
        let mut r = Reads::default();
        r.template(
            &Str::new(0..1, "{{ params.owner }} {{ params.team.name }}".to_owned()),
            "the message",
        );
        let names: Vec<&str> = r.reads.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["owner", "team"]);
        let mut r = Reads::default();
        r.template(&Str::new(0..1, "{{ params }}".to_owned()), "the message");
        assert!(r.whole);
    }
}
