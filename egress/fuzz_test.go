package egress_test

import (
	"net/netip"
	"testing"

	"github.com/hookflow/hookflow/egress"
)

// FuzzForbidden checks that Forbidden never panics, whatever the bytes or text, and that
// the IPv6 forms embedding an IPv4 address cannot launder it: the IPv4-mapped, 6to4 and
// well-known NAT64 forms get exactly the IPv4 address's verdict, and the IPv4-compatible
// form is refused exactly when the IPv4 address is.
func FuzzForbidden(f *testing.F) {
	for _, seed := range []string{
		"127.0.0.1", "10.0.0.1", "169.254.169.254", "8.8.8.8", "0.0.0.0", "255.255.255.255",
		"::1", "::ffff:10.0.0.1", "2002:a00:1::", "64:ff9b:1::1", "fe80::1%eth0", "2001::1",
		"not an address", "",
	} {
		f.Add([]byte(seed))
		if ip, err := netip.ParseAddr(seed); err == nil {
			f.Add(ip.AsSlice())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if ip, err := netip.ParseAddr(string(data)); err == nil {
			egress.Forbidden(ip)
		}
		if ip, ok := netip.AddrFromSlice(data); ok {
			verdict := egress.Forbidden(ip)
			if zoned := ip.WithZone("eth0"); egress.Forbidden(zoned) != verdict {
				t.Fatalf("%s and %s get different verdicts", ip, zoned)
			}
		}
		if len(data) < 4 {
			return
		}
		v4 := netip.AddrFrom4([4]byte(data[:4]))
		want := egress.Forbidden(v4)

		mapped := netip.AddrFrom16(v4.As16())
		sixToFour := [16]byte{0x20, 0x02, data[0], data[1], data[2], data[3]}
		nat64 := [16]byte{0x00, 0x64, 0xff, 0x9b, 12: data[0], 13: data[1], 14: data[2], 15: data[3]}
		for _, embedding := range []netip.Addr{mapped, netip.AddrFrom16(sixToFour), netip.AddrFrom16(nat64)} {
			if got := egress.Forbidden(embedding); got != want {
				t.Fatalf("Forbidden(%s) = %q but Forbidden(%s) = %q", embedding, got, v4, want)
			}
		}

		// ::0.0.0.0 and ::0.0.0.1 are :: and ::1, with reasons of their own, so only the
		// refusal itself must agree.
		compatible := netip.AddrFrom16([16]byte{12: data[0], 13: data[1], 14: data[2], 15: data[3]})
		if got := egress.Forbidden(compatible); (got == "") != (want == "") {
			t.Fatalf("Forbidden(%s) = %q but Forbidden(%s) = %q", compatible, got, v4, want)
		}
	})
}
