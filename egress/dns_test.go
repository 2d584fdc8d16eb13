package egress_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// fakeDNS answers A and AAAA queries over UDP from a function, so tests can make names
// resolve to chosen addresses, not resolve at all, or change their answer between two
// lookups (DNS rebinding), without touching the network.
type fakeDNS struct {
	conn   net.PacketConn
	answer func(name string) (addrs []netip.Addr, exists bool)
}

// newResolver starts a fake DNS server and returns a resolver that uses only it. answer
// receives names in lowercase without the trailing dot.
func newResolver(t *testing.T, answer func(name string) (addrs []netip.Addr, exists bool)) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	server := &fakeDNS{conn: conn, answer: answer}
	go server.serve()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", conn.LocalAddr().String())
		},
	}
}

// staticResolver resolves the names in records and no others.
func staticResolver(t *testing.T, records map[string][]string) *net.Resolver {
	t.Helper()
	return newResolver(t, func(name string) ([]netip.Addr, bool) {
		raw, ok := records[name]
		addrs := make([]netip.Addr, len(raw))
		for i, r := range raw {
			addrs[i] = netip.MustParseAddr(r)
		}
		return addrs, ok
	})
}

func (s *fakeDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply, err := s.reply(buf[:n]); err == nil {
			_, _ = s.conn.WriteTo(reply, from)
		}
	}
}

const (
	typeA    = 1
	typeAAAA = 28
)

// reply builds the response to one query: the question echoed, then one answer record per
// address of the queried family, or NXDOMAIN.
func (s *fakeDNS) reply(query []byte) ([]byte, error) {
	if len(query) < 12 {
		return nil, errors.New("short query")
	}
	var labels []string
	offset := 12
	for {
		if offset >= len(query) {
			return nil, errors.New("truncated name")
		}
		length := int(query[offset])
		offset++
		if length == 0 {
			break
		}
		if offset+length > len(query) {
			return nil, errors.New("truncated label")
		}
		labels = append(labels, strings.ToLower(string(query[offset:offset+length])))
		offset += length
	}
	if offset+4 > len(query) {
		return nil, errors.New("truncated question")
	}
	qtype := int(query[offset])<<8 | int(query[offset+1])
	questionEnd := offset + 4

	addrs, exists := s.answer(strings.Join(labels, "."))
	var answers [][]byte
	for _, addr := range addrs {
		switch {
		case qtype == typeA && addr.Is4():
			a := addr.As4()
			answers = append(answers, a[:])
		case qtype == typeAAAA && addr.Is6():
			a := addr.As16()
			answers = append(answers, a[:])
		}
	}

	rcode := byte(0)
	if !exists {
		rcode = 3 // NXDOMAIN
	}
	reply := []byte{
		query[0], query[1], // id
		0x84 | query[2]&0x01, 0x80 | rcode, // response, authoritative, RD echoed, RA
		0, 1, // one question
		0, byte(len(answers)),
		0, 0, // no authority records
		0, 0, // no additional records
	}
	reply = append(reply, query[12:questionEnd]...)
	for _, rdata := range answers {
		reply = append(reply,
			0xc0, 12, // the name: a pointer to the question's
			byte(qtype>>8), byte(qtype),
			0, 1, // class IN
			0, 0, 0, 0, // TTL 0: nothing may cache it
			0, byte(len(rdata)))
		reply = append(reply, rdata...)
	}
	return reply, nil
}
