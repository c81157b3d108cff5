//! Many patterns compiled into one matcher.
//!
//! Each `$or` branch of each pattern gets one *key* constraint, its most selective one
//! (exact values that few other branches share beat prefixes, which beat operators that
//! need evaluating). Key values go into per-field hash indexes (exact strings, numbers,
//! prefixes and suffixes by length, ignore-case forms); what cannot be hashed (wildcard,
//! anything-but, numeric, cidr, exists, IP literals) is tested in a short per-field list.
//! An event is read once ([`super::scan`]), only along the fields some pattern names; its
//! leaves probe the key indexes, and only the branches whose key hit are evaluated in
//! full, so the cost follows the number of plausible rules, not of all rules. Branches
//! with nothing but `exists: false` have no key and are evaluated for every event.
//! Array consistency uses the same search as the reference interpreter, and only when a
//! candidate actually involves array elements or absent fields.
//!
//! Evaluating a candidate is kept cheap because most candidates fail:
//! - every exact value a constraint names is interned per field, and the lookup that
//!   probes a leaf's key index also gives the leaf's value id, so exact values are
//!   compared as integers;
//! - each index entry carries a 64-bit summary of what its branch needs (its fields
//!   present, the values of its single-value constraints, its single prefixes), and the
//!   event gets the same summary of what it has, so most branches that cannot match are
//!   dropped without being read;
//! - per event, each field's leaves are found in O(1) (a table stamped with the event's
//!   generation, never cleared), and an event's IP address is parsed once per leaf;
//! - the key constraint is not re-checked when its field sits in no array (the probe that
//!   made the branch a candidate already proved it).
//!
//! The key indexes are in [`index`].

use super::flatten::solve;
use super::op::Op;
use super::scan::{Scan, ScanLeaf, Trie, scan, scan_value};
use super::{EventError, Pattern};
use rustc_hash::FxHashMap;

mod index;

use index::{COp, FieldIndex, IpCache, Posting, TAG_PRESENT, VID_NONE, sig_bit};

/// Many patterns compiled into one matcher; ids are the insertion indices.
#[derive(Debug, Clone)]
pub struct Matcher {
    trie: Trie,
    fields: Vec<FieldIndex>,
    branches: Vec<CBranch>,
    /// All branches' constraints, each branch's contiguous.
    constraints: Vec<CConstraint>,
    /// The value ids that constraints accept ([`CConstraint::vals`] ranges into it).
    vals: Vec<u32>,
    /// The operators that constraints evaluate ([`CConstraint::ops`] ranges into it).
    ops: Vec<COp>,
    /// Branches without a key: evaluated for every event.
    always: Vec<Posting>,
    patterns: usize,
}

#[derive(Debug, Clone)]
struct CBranch {
    pattern: u32,
    constraints: (u32, u32),
    /// The pattern has other branches: a match is recorded per pattern.
    shared: bool,
}

#[derive(Debug, Clone)]
struct CConstraint {
    field: u32,
    /// Ranges into [`Matcher::vals`] and [`Matcher::ops`].
    vals: (u32, u32),
    ops: (u32, u32),
    absent_ok: bool,
    /// The branch's key: some leaf satisfied it when the branch became a candidate.
    key: bool,
}

/// How costly a constraint is as a key: about how many branches its values wake up.
fn key_cost(ops: &[Op], path: &str, freq: &FxHashMap<String, u32>) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Str { ip: None, .. }
            | Op::Num { .. }
            | Op::Bool(_)
            | Op::Null
            | Op::EqualsIgnoreCase { .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1))
            }
            Op::Prefix { value, .. } | Op::Suffix { value, .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1)) * 4
                    + if value.is_empty() { 100_000 } else { 0 }
            }
            Op::Exists | Op::AnythingBut { .. } => 1_000_000,
            _ => 10_000,
        })
        .sum()
}

fn op_key(path: &str, op: &Op) -> String {
    format!("{path}\u{0}{}", op.to_json())
}

/// Where a field's leaves are in the sorted leaves of the event stamped `generation`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    generation: u32,
    lo: u32,
    hi: u32,
    /// Some leaf of the field sits in an array.
    in_array: bool,
}

/// Per-event working state, kept between events. Tables indexed by field, branch or
/// pattern are stamped with the event's generation instead of being cleared, so an event
/// costs what it touches; one set serves every matcher of the thread.
#[derive(Debug, Default)]
struct Work {
    generation: u32,
    slots: Vec<Slot>,
    /// Generation in which each branch became a candidate.
    seen: Vec<u32>,
    /// Generation in which each pattern matched.
    matched: Vec<u32>,
    cands: Vec<Posting>,
    /// Per sorted leaf.
    info: Vec<LeafInfo>,
}

/// What matching learns about a leaf once, for all the constraints that test it.
#[derive(Debug, Clone, Copy)]
struct LeafInfo {
    vid: u32,
    ip: IpCache,
}

impl Work {
    /// Starts an event: a new generation, tables big enough for `m`.
    fn start(&mut self, m: &Matcher, leaves: usize) {
        if self.generation == u32::MAX {
            self.generation = 0;
            self.slots.iter_mut().for_each(|s| s.generation = 0);
            self.seen.iter_mut().for_each(|g| *g = 0);
            self.matched.iter_mut().for_each(|g| *g = 0);
        }
        self.generation += 1;
        if self.slots.len() < m.fields.len() {
            self.slots.resize(m.fields.len(), Slot::default());
        }
        if self.seen.len() < m.branches.len() {
            self.seen.resize(m.branches.len(), 0);
        }
        if self.matched.len() < m.patterns {
            self.matched.resize(m.patterns, 0);
        }
        self.cands.clear();
        self.info.clear();
        self.info.resize(
            leaves,
            LeafInfo {
                vid: VID_NONE,
                ip: IpCache::Unknown,
            },
        );
    }

    /// The leaves of `field` (a range of the sorted leaves) and whether any is in an array.
    #[inline]
    fn leaves_of(&self, field: u32) -> (usize, usize, bool) {
        let s = self.slots[field as usize];
        if s.generation == self.generation {
            (s.lo as usize, s.hi as usize, s.in_array)
        } else {
            (0, 0, false)
        }
    }
}

/// Per-thread buffers kept between events, so that matching allocates only its answer.
#[derive(Debug, Default)]
struct Buffers {
    scan: Scan<'static>,
    work: Work,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// Sorts leaves by field, keeping event order within a field: an insertion sort, as an
/// event has only a handful of leaves.
fn sort_leaves(leaves: &mut [ScanLeaf<'_>]) {
    if leaves.len() > 32 {
        leaves.sort_by_key(|l| l.field);
        return;
    }
    for i in 1..leaves.len() {
        let mut j = i;
        while j > 0 && leaves[j - 1].field > leaves[j].field {
            leaves.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Matcher {
    pub fn new(patterns: &[Pattern]) -> Matcher {
        let mut field_ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut trie = Trie::new();
        let mut freq: FxHashMap<String, u32> = FxHashMap::default();
        for p in patterns {
            for b in p.branches() {
                for c in b {
                    if !field_ids.contains_key(&c.path) {
                        let id = u32::try_from(field_ids.len()).unwrap_or(u32::MAX);
                        field_ids.insert(c.path.clone(), id);
                        trie.insert(&c.path, id);
                    }
                    for op in &c.ops {
                        *freq.entry(op_key(&c.path, op)).or_default() += 1;
                    }
                }
            }
        }
        let mut m = Matcher {
            trie,
            fields: vec![FieldIndex::default(); field_ids.len()],
            branches: Vec::new(),
            constraints: Vec::new(),
            vals: Vec::new(),
            ops: Vec::new(),
            always: Vec::new(),
            patterns: patterns.len(),
        };
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        for (pid, p) in patterns.iter().enumerate() {
            let shared = p.branches().len() > 1;
            for b in p.branches() {
                let id = to_u32(m.branches.len());
                let first = m.constraints.len();
                let mut needs = 0;
                for c in b {
                    let field = field_ids.get(&c.path).copied().unwrap_or(0);
                    let index = &mut m.fields[field as usize];
                    if let ([op], false) = (c.ops.as_slice(), c.absent_ok) {
                        needs |= index.guard(field, op);
                    }
                    let (vals_start, ops_start) = (m.vals.len(), m.ops.len());
                    for op in &c.ops {
                        let (vid, cop) = index.intern(op);
                        m.vals.extend(vid);
                        m.ops.extend(cop);
                    }
                    if !c.absent_ok {
                        needs |= sig_bit(field, TAG_PRESENT);
                    }
                    m.constraints.push(CConstraint {
                        field,
                        vals: (to_u32(vals_start), to_u32(m.vals.len())),
                        ops: (to_u32(ops_start), to_u32(m.ops.len())),
                        absent_ok: c.absent_ok,
                        key: false,
                    });
                }
                let key = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.absent_ok && !c.ops.is_empty())
                    .min_by_key(|(_, c)| key_cost(&c.ops, &c.path, &freq))
                    .map(|(i, _)| i);
                let posting = Posting { branch: id, needs };
                match key {
                    Some(k) => {
                        m.constraints[first + k].key = true;
                        let field = m.constraints[first + k].field;
                        for op in &b[k].ops {
                            m.fields[field as usize].add(op, posting);
                        }
                    }
                    None => m.always.push(posting),
                }
                m.branches.push(CBranch {
                    pattern: to_u32(pid),
                    constraints: (to_u32(first), to_u32(m.constraints.len())),
                    shared,
                });
            }
        }
        for f in &mut m.fields {
            f.finish();
        }
        m
    }

    /// Ids of the matching patterns, ascending.
    pub fn matches(&self, event: &serde_json::Value) -> Vec<usize> {
        let mut s = Scan::default();
        scan_value(&self.trie, event, &mut s);
        sort_leaves(&mut s.leaves);
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.run_with(&s, &mut bufs.work),
            Err(_) => self.run_with(&s, &mut Work::default()),
        })
    }

    /// Like [`Matcher::matches`], from the event's raw JSON bytes. Fields that no pattern
    /// names are skipped without being fully validated.
    pub fn matches_json(&self, event: &[u8]) -> Result<Vec<usize>, EventError> {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.matches_json_in(event, &mut bufs),
            Err(_) => self.matches_json_in(event, &mut Buffers::default()),
        })
    }

    fn matches_json_in(&self, event: &[u8], bufs: &mut Buffers) -> Result<Vec<usize>, EventError> {
        let mut s = std::mem::take(&mut bufs.scan).recycle();
        let found = scan(&self.trie, event, &mut s).map(|()| {
            sort_leaves(&mut s.leaves);
            self.run_with(&s, &mut bufs.work)
        });
        bufs.scan = s.recycle();
        found
    }

    /// Matches the leaves of `s`, sorted by field.
    fn run_with(&self, s: &Scan<'_>, w: &mut Work) -> Vec<usize> {
        let leaves = &s.leaves;
        w.start(self, leaves.len());
        let generation = w.generation;
        // In one pass: where each field's leaves are, which fields the event has, each
        // leaf's value id, and the branches whose key some leaf satisfies.
        let mut present = 0u64;
        let Work {
            slots,
            seen,
            cands,
            info,
            ..
        } = w;
        let mut hit = |ps: &[Posting]| {
            for p in ps {
                if let Some(g) = seen.get_mut(p.branch as usize)
                    && *g != generation
                {
                    *g = generation;
                    cands.push(*p);
                }
            }
        };
        for (i, leaf) in leaves.iter().enumerate() {
            let (Some(index), Some(slot)) = (
                self.fields.get(leaf.field as usize),
                slots.get_mut(leaf.field as usize),
            ) else {
                continue;
            };
            let at = u32::try_from(i).unwrap_or(u32::MAX);
            if slot.generation == generation {
                slot.hi = at + 1;
                slot.in_array |= leaf.mem_len > 0;
            } else {
                *slot = Slot {
                    generation,
                    lo: at,
                    hi: at + 1,
                    in_array: leaf.mem_len > 0,
                };
            }
            let info = &mut info[i];
            info.vid = index.probe(
                leaf.field,
                &leaf.value,
                &mut info.ip,
                &mut present,
                &mut hit,
            );
            present |= sig_bit(leaf.field, TAG_PRESENT);
            if info.vid != VID_NONE {
                present |= sig_bit(leaf.field, info.vid);
            }
        }
        hit(&self.always);
        let mut out: Vec<usize> = Vec::new();
        for k in 0..w.cands.len() {
            let p = w.cands[k];
            if p.needs & !present != 0 {
                continue;
            }
            let branch = &self.branches[p.branch as usize];
            let pid = branch.pattern as usize;
            if branch.shared && w.matched[pid] == generation {
                continue;
            }
            if self.eval(branch, s, w) {
                if branch.shared {
                    w.matched[pid] = generation;
                }
                out.push(pid);
            }
        }
        out.sort_unstable();
        out
    }

    /// Whether the sorted leaf `i` satisfies constraint `c`.
    #[inline(always)]
    fn accepts(&self, c: &CConstraint, leaf: &ScanLeaf<'_>, i: usize, w: &mut Work) -> bool {
        let info = &mut w.info[i];
        if info.vid != VID_NONE
            && self.vals[c.vals.0 as usize..c.vals.1 as usize].contains(&info.vid)
        {
            return true;
        }
        self.ops[c.ops.0 as usize..c.ops.1 as usize]
            .iter()
            .any(|op| op.matches(&leaf.value, &mut info.ip))
    }

    #[inline(always)]
    fn eval(&self, branch: &CBranch, s: &Scan<'_>, w: &mut Work) -> bool {
        let leaves = &s.leaves;
        let constraints =
            &self.constraints[branch.constraints.0 as usize..branch.constraints.1 as usize];
        let mut simple = true;
        for c in constraints {
            let (lo, hi, in_array) = w.leaves_of(c.field);
            if c.absent_ok {
                if lo < hi {
                    simple = false;
                }
                continue;
            }
            if c.key && !in_array {
                // The leaf that made this branch a candidate satisfies its key.
                continue;
            }
            let mut any = false;
            for (i, leaf) in (lo..hi).zip(&leaves[lo..hi]) {
                if self.accepts(c, leaf, i, w) {
                    any = true;
                    if leaf.mem_len > 0 {
                        simple = false;
                        break;
                    }
                    if !in_array {
                        break;
                    }
                }
            }
            if !any {
                return false;
            }
        }
        simple || self.eval_arrays(constraints, s, w)
    }

    /// The rest of [`Matcher::eval`] when a candidate involves array elements or absent
    /// fields: the reference interpreter's search.
    #[inline(never)]
    fn eval_arrays(&self, constraints: &[CConstraint], s: &Scan<'_>, w: &mut Work) -> bool {
        let leaves = &s.leaves;
        let mut cands = Vec::with_capacity(constraints.len());
        let mut at_path = Vec::with_capacity(constraints.len());
        let mut absent_ok = Vec::with_capacity(constraints.len());
        for c in constraints {
            let (lo, hi, _) = w.leaves_of(c.field);
            cands.push(
                (lo..hi)
                    .filter(|&i| self.accepts(c, &leaves[i], i, w))
                    .collect(),
            );
            at_path.push((lo..hi).collect());
            absent_ok.push(c.absent_ok);
        }
        let mem = |i: usize| -> &[(u32, u32)] { s.mem(&leaves[i]) };
        solve(&cands, &absent_ok, &at_path, &mem)
    }
}

#[cfg(test)]
mod tests;
