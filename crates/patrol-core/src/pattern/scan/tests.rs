use super::*;

#[test]
fn recycling_keeps_the_buffers() {
    let text = String::from("x");
    let mut s = Scan::default();
    s.leaves.reserve(40);
    s.push_leaf(0, Scalar::Str(Cow::Borrowed(&text)));
    s.mem.reserve(8);
    let caps = (s.leaves.capacity(), s.mem.capacity());
    let again: Scan<'static> = s.recycle();
    assert!(again.leaves.is_empty() && again.arena.is_empty());
    assert_eq!((again.leaves.capacity(), again.mem.capacity()), caps);
}
