package homekit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"testing"
)

func TestTLVState(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want byte
	}{
		{"M1", []byte{6, 1, 1, 3, 2, 0xaa, 0xbb}, 1},
		{"M3 after other items", []byte{5, 2, 0xaa, 0xbb, 6, 1, 3}, 3},
		{"no state", []byte{5, 1, 0xaa}, 0},
		{"truncated item", []byte{5, 9, 0xaa}, 0},
		{"empty", nil, 0},
		{"state of the wrong length", []byte{6, 2, 3, 3}, 0},
		{"state after a long fragmented item", append(append([]byte{5, 255}, make([]byte, 255)...), 5, 1, 0, 6, 1, 3), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tlvState(tc.in); got != tc.want {
				t.Fatalf("tlvState(% x) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

// TestVerifyGate_RefusesUnverified: a request for accessory data on a connection that never
// finished pair-verify is refused (no session can be borrowed), and bad pair-verify input
// gets hap's TLV error without harming the bridge.
func TestVerifyGate_RefusesUnverified(t *testing.T) {
	r := newRig(t, Config{})
	conn, err := net.Dial("tcp", r.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	roundTrip := func(req *http.Request) *http.Response {
		t.Helper()
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, path := range []string{"/accessories", "/characteristics?id=1.2"} {
		req, _ := http.NewRequest(http.MethodGet, "http://vakt"+path, nil)
		res := roundTrip(req)
		var body struct {
			Status int `json:"status"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if body.Status != -70401 {
			t.Fatalf("GET %s without pair-verify: status %d %+v, want -70401", path, res.StatusCode, body)
		}
	}
	pairVerify := func(body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://vakt/pair-verify", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/pairing+tlv8")
		res := roundTrip(req)
		res.Body.Close()
		return res.StatusCode
	}
	refused := func(after string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://vakt/accessories", nil)
		res := roundTrip(req)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Fatalf("accessories after %s: status %d", after, res.StatusCode)
		}
	}
	pairVerify([]byte{0xff, 0xff, 0xff})
	refused("garbage")
	pairVerify([]byte{6, 1, 3})
	refused("M3 without M1")
	m1 := append([]byte{6, 1, 1, 3, 32}, bytes.Repeat([]byte{9}, 32)...)
	if code := pairVerify(m1); code != http.StatusOK {
		t.Fatalf("M1: status %d", code)
	}
	// hap would panic on an encrypted item shorter than its tag: the gate answers instead
	if code := pairVerify([]byte{6, 1, 3, 5, 4, 1, 2, 3, 4}); code != http.StatusOK {
		t.Fatalf("M3 with a short encrypted item: status %d", code)
	}
	refused("a short M3")
	if code := pairVerify(append([]byte{6, 1, 3, 5, 20}, bytes.Repeat([]byte{1}, 20)...)); code != http.StatusOK {
		t.Fatalf("M3 that does not authenticate: status %d", code)
	}
	// a failed pair-verify leaves nothing to serve: the connection is closed
	req, _ := http.NewRequest(http.MethodGet, "http://vakt/accessories", nil)
	req.Write(conn)
	if res, err := http.ReadResponse(br, req); err == nil {
		t.Fatalf("after a failed pair-verify the connection answered %d", res.StatusCode)
	}
}
