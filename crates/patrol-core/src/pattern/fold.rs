//! Case folding for the ignore-case operators (`equals-ignore-case`, and `prefix` /
//! `suffix` / `anything-but` with `equals-ignore-case`): both the pattern's string and the
//! event's are put through Unicode's full default case folding (`CaseFolding.txt`, status
//! C and F, by ICU4X) and compared folded. So `ß` matches `SS` and `ss`, `ς`, `σ` and `Σ`
//! match each other, and the Turkish dotless `ı` and dotted `İ` fold as Unicode's default
//! (not Turkic) folding says: `ı` stays `ı` (it matches neither `i` nor `I`), `İ` folds to
//! `i` followed by a combining dot. No normalization: `é` and `e` + U+0301 differ.
//!
//! Plain lowercasing (`str::to_lowercase`) got these wrong: `ß` lowercases to itself, so it
//! never met `SS`, and a final `Σ` lowercases to `ς`, so `ΣΟΦΙΑΣ` missed `σοφιασ`.

use std::borrow::Cow;

use icu_casemap::CaseMapper;

/// `s` case-folded; borrowed when folding changes nothing (ASCII lowercase, most text).
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    if s.is_ascii() {
        return Cow::Owned(s.to_ascii_lowercase());
    }
    Cow::Owned(CaseMapper::new().fold_string(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        fold(a) == fold(b)
    }

    #[test]
    fn german_sharp_s_folds_to_ss() {
        assert!(same("ß", "SS"));
        assert!(same("ß", "ss"));
        assert!(same("STRASSE", "straße"));
        assert!(same("ẞ", "ss"), "capital sharp s");
    }

    #[test]
    fn greek_sigmas_all_fold_to_one() {
        for (a, b) in [("ς", "σ"), ("ς", "Σ"), ("σ", "Σ")] {
            assert!(same(a, b), "{a} {b}");
        }
        assert!(same("ΣΟΦΙΑΣ", "σοφιασ"));
        assert!(same("ΣΟΦΙΑΣ", "σοφιας"));
    }

    #[test]
    fn turkish_i_folds_as_unicode_default_not_turkic() {
        assert!(same("I", "i"));
        assert!(!same("ı", "i"), "dotless i has no default folding");
        assert!(!same("ı", "I"));
        assert_eq!(fold("İ"), "i\u{307}");
        assert!(same("İ", "i\u{307}"));
        assert!(!same("İ", "i"));
    }

    #[test]
    fn no_normalization_and_ascii_fast_paths() {
        assert!(!same("é", "e\u{301}"));
        assert!(same("ÉCOLE", "école"));
        assert!(matches!(fold("already lower"), Cow::Borrowed(_)));
        assert_eq!(fold("MiXeD"), "mixed");
        assert_eq!(fold("ﬃ"), "ffi", "ligatures expand");
    }
}
