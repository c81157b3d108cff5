//! `{"cidr": "10.0.0.0/24"}` and IP-address literals. Follows event-ruler: the range is
//! from the written address to that address with all host bits set (host bits in the
//! pattern are allowed and raise the range's bottom), `/32` and `/128` are rejected, event
//! addresses may have leading zeros in IPv4 octets, and only strings can match.

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    pub(crate) v6: bool,
    pub(crate) lo: u128,
    pub(crate) hi: u128,
}

impl IpRange {
    pub(crate) fn parse_cidr(s: &str) -> Result<IpRange, String> {
        let Some((addr, bits)) = s.split_once('/') else {
            return Err(format!(
                "`{s}` is not a CIDR block: write it as `10.0.0.0/24` or `2001:db8::/32`"
            ));
        };
        let Some((v6, ip)) = parse_ip(addr) else {
            return Err(format!("`{addr}` is not an IPv4 or IPv6 address"));
        };
        let bits: u32 = bits
            .parse()
            .map_err(|_| format!("mask bits `{bits}` in `{s}` must be a number"))?;
        let width = if v6 { 128 } else { 32 };
        if bits >= width {
            return Err(format!(
                "mask bits in `{s}` must be below {width}; to match one address write it as a plain string"
            ));
        }
        let host_bits = width - bits;
        let mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        Ok(IpRange {
            v6,
            lo: ip,
            hi: ip | mask,
        })
    }

    /// A single address, if `s` looks like one (used for exact-string patterns).
    pub(crate) fn single(s: &str) -> Option<IpRange> {
        parse_ip(s).map(|(v6, ip)| IpRange { v6, lo: ip, hi: ip })
    }

    pub(crate) fn contains_str(&self, s: &str) -> bool {
        match parse_ip(s) {
            Some((v6, ip)) => v6 == self.v6 && self.lo <= ip && ip <= self.hi,
            None => false,
        }
    }
}

/// Parses an address the way event-ruler recognises one: four dotted decimal numbers
/// (leading zeros allowed, each ≤ 255), or hex digits and colons (std's IPv6 syntax).
pub(crate) fn parse_ip(s: &str) -> Option<(bool, u128)> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    // Anything but digits and dots fails the IPv4 reading at once.
    if let Some(ip) = parse_v4(b) {
        return Some((false, u128::from(ip)));
    }
    if b.contains(&b':') && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b':') {
        return s
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| (true, u128::from(a)));
    }
    None
}

/// Four dotted decimal numbers of digits and dots only: leading zeros are allowed, each
/// number is at most 255 and, zeros aside, at most three digits.
fn parse_v4(b: &[u8]) -> Option<u32> {
    let (mut ip, mut parts) = (0u32, 0);
    let (mut v, mut digits, mut len) = (0u32, 0, 0);
    let mut i = 0;
    loop {
        let c = b.get(i).copied().unwrap_or(b'.');
        if c == b'.' {
            if len == 0 || v > 255 || parts == 4 {
                return None;
            }
            ip = (ip << 8) | v;
            parts += 1;
            if i >= b.len() {
                break;
            }
            (v, digits, len) = (0, 0, 0);
        } else {
            let d = u32::from(c.wrapping_sub(b'0'));
            if d > 9 {
                return None;
            }
            len += 1;
            if v != 0 || d != 0 {
                digits += 1;
                if digits > 3 {
                    return None;
                }
                v = v * 10 + d;
            }
        }
        i += 1;
    }
    (parts == 4).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4() {
        let r = IpRange::parse_cidr("10.0.0.0/24").expect("valid");
        assert!(r.contains_str("10.0.0.0"));
        assert!(r.contains_str("10.0.0.255"));
        assert!(r.contains_str("010.000.000.001"));
        assert!(!r.contains_str("10.0.1.0"));
        assert!(!r.contains_str("::1"));
        assert!(!r.contains_str("10.0.0"));
        assert!(IpRange::parse_cidr("10.0.0.1/32").is_err());
        assert!(IpRange::parse_cidr("10.0.0.1").is_err());
        assert!(IpRange::parse_cidr("10.0.0.1/x").is_err());
        assert!(IpRange::parse_cidr("0.0.0.0/0").is_ok());
        // Host bits raise the bottom of the range, as in event-ruler.
        let h = IpRange::parse_cidr("10.0.0.5/24").expect("valid");
        assert!(!h.contains_str("10.0.0.4"));
        assert!(h.contains_str("10.0.0.200"));
    }

    #[test]
    fn v4_spellings() {
        let v4 = |s: &str| parse_ip(s).map(|(v6, ip)| (v6, ip as u32));
        assert_eq!(v4("10.0.0.1"), Some((false, 0x0A00_0001)));
        assert_eq!(v4("255.255.255.255"), Some((false, u32::MAX)));
        assert_eq!(v4("0000000010.000.0.001"), Some((false, 0x0A00_0001)));
        for bad in [
            "",
            ".",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            ".1.2.3",
            "1.2.3.",
            "256.0.0.1",
            "1.2.3.1000",
            "1.2.3.0256",
            "1234.0.0.1",
            "1.2.3.4a",
        ] {
            assert_eq!(v4(bad), None, "{bad}");
        }
    }

    /// The straightforward reading of the rule that [`parse_v4`] implements.
    fn v4_reference(s: &str) -> Option<u32> {
        let mut ip = 0u32;
        let mut parts = 0;
        for part in s.split('.') {
            let digits = part.trim_start_matches('0');
            if part.is_empty() || digits.len() > 3 {
                return None;
            }
            let v: u32 = if digits.is_empty() {
                0
            } else {
                digits.parse().ok()?
            };
            if v > 255 {
                return None;
            }
            ip = (ip << 8) | v;
            parts += 1;
        }
        (parts == 4).then_some(ip)
    }

    #[test]
    fn v4_agrees_with_reference() {
        // Every string of up to 7 characters over a small alphabet, and longer ones built
        // from interesting octets.
        let alphabet = [b'0', b'1', b'2', b'5', b'9', b'.'];
        let mut strings: Vec<String> = vec![String::new()];
        let mut frontier = strings.clone();
        for _ in 0..7 {
            let mut next = Vec::new();
            for s in &frontier {
                for c in alphabet {
                    next.push(format!("{s}{}", c as char));
                }
            }
            strings.extend(next.iter().cloned());
            frontier = next;
        }
        let octets = [
            "0", "00", "000", "0000255", "255", "256", "1", "01", "999", "1000", "",
        ];
        for a in octets {
            for b in octets {
                strings.push(format!("{a}.{b}.1.{a}"));
                strings.push(format!("10.{a}.{b}.0"));
            }
        }
        for s in &strings {
            assert_eq!(parse_v4(s.as_bytes()), v4_reference(s), "{s}");
        }
    }

    #[test]
    fn v6() {
        let r = IpRange::parse_cidr("2001:db8::/32").expect("valid");
        assert!(r.contains_str("2001:db8::1"));
        assert!(r.contains_str("2001:0db8:ffff::"));
        assert!(r.contains_str("2001:DB8::1"));
        assert!(!r.contains_str("2001:db9::1"));
        assert!(!r.contains_str("10.0.0.1"));
        assert!(IpRange::parse_cidr("::1/128").is_err());
        assert!(IpRange::parse_cidr("::/0").is_ok());
    }
}
