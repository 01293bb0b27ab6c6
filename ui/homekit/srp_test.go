package homekit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	"net/http"
	"testing"

	"github.com/brutella/hap/tlv8"
	"github.com/tadglines/go-pkgs/crypto/srp"
)

// pairSetupM1 and pairSetupM3 are the controller's pair-setup requests (hap's tlv8 writes
// every field: no "optional" when marshalling); pairSetupTLV reads the answers.
type pairSetupM1 struct {
	Method byte `tlv8:"0"`
	State  byte `tlv8:"6"`
}

type pairSetupM3 struct {
	PublicKey []byte `tlv8:"3"`
	Proof     []byte `tlv8:"4"`
	State     byte   `tlv8:"6"`
}

type pairSetupTLV struct {
	Salt      []byte `tlv8:"2,optional"`
	PublicKey []byte `tlv8:"3,optional"`
	Proof     []byte `tlv8:"4,optional"`
	State     byte   `tlv8:"6,optional"`
	Error     byte   `tlv8:"7,optional"`
}

// TestBridge_PairSetupWithPaddedSRPValues: HomeKit controllers send A and derive K from S
// padded to the group's 384 bytes (RFC 5054; Apple's Home app, and hap-controller's
// fast-srp-hap, do). When A or S happens to start with a zero byte (1 in 256 each), a
// server that hashes them without it computes another proof and refuses the right setup
// code: about 1 first pairing in 128 failed so. This controller picks its secret until A,
// or S, starts with a zero byte, and the bridge must accept the right code; and it must
// still refuse a wrong one.
func TestBridge_PairSetupWithPaddedSRPValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pick  func(a, s []byte) bool
		wrong bool
	}{
		{"A and S without a leading zero", func(a, s []byte) bool { return a[0] != 0 && s[0] != 0 }, false},
		{"A with a leading zero", func(a, s []byte) bool { return a[0] == 0 }, false},
		{"S with a leading zero", func(a, s []byte) bool { return s[0] == 0 && a[0] != 0 }, false},
		{"a wrong code", func(a, s []byte) bool { return true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{})
			code, _ := r.b.SetupCode()
			if tc.wrong {
				code = "000-00-000"
			}
			ok := pairSetupM1toM4(t, r.b.Addr(), code, tc.pick)
			if ok == tc.wrong {
				t.Fatalf("pair-setup M4 accepted=%v, want %v", ok, !tc.wrong)
			}
		})
	}
}

// pairSetupM1toM4 runs pair-setup's SRP exchange (M1–M4) as a padding controller does,
// with a client secret that pick accepts, and reports whether the bridge accepted the
// proof (and its own proof checks out).
func pairSetupM1toM4(t *testing.T, addr, code string, pick func(a, s []byte) bool) bool {
	t.Helper()
	// One connection: hap keys the pair-setup session by the remote address.
	cl := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer cl.CloseIdleConnections()
	post := func(in any) pairSetupTLV {
		t.Helper()
		body, err := tlv8.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Post("http://"+addr+"/pair-setup", "application/pairing+tlv8", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out pairSetupTLV
		if err := tlv8.UnmarshalReader(res.Body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	m2 := post(pairSetupM1{Method: 0, State: 1})
	if m2.State != 2 || len(m2.Salt) == 0 || len(m2.PublicKey) == 0 || m2.Error != 0 {
		t.Fatalf("M2: %+v", m2)
	}
	grp, err := srp.GetGroup("rfc5054.3072")
	if err != nil {
		t.Fatal(err)
	}
	size := grp.Size / 8
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, size)) }
	h := func(parts ...[]byte) []byte {
		d := sha512.New()
		for _, p := range parts {
			d.Write(p)
		}
		return d.Sum(nil)
	}
	N, g := grp.Prime, grp.Generator
	B := new(big.Int).SetBytes(m2.PublicKey)
	x := new(big.Int).SetBytes(h(m2.Salt, h([]byte("Pair-Setup:"+code))))
	k := new(big.Int).SetBytes(h(N.Bytes(), pad(g)))
	gx := new(big.Int).Exp(g, x, N)
	base := new(big.Int).Sub(B, new(big.Int).Mul(k, gx))
	base.Mod(base, N)
	var A, S []byte
	for tries := 0; ; tries++ {
		if tries > 20000 {
			t.Fatal("no client secret found for the case")
		}
		sec := make([]byte, 32)
		rand.Read(sec)
		a := new(big.Int).SetBytes(sec)
		A = pad(new(big.Int).Exp(g, a, N))
		u := new(big.Int).SetBytes(h(A, pad(B)))
		e := new(big.Int).Add(a, new(big.Int).Mul(u, x))
		S = pad(new(big.Int).Exp(base, e, N))
		if pick(A, S) {
			break
		}
	}
	K := h(S)
	hN, hg := h(N.Bytes()), h(g.Bytes())
	for i := range hN {
		hN[i] ^= hg[i]
	}
	M1 := h(hN, h([]byte("Pair-Setup")), m2.Salt, A, m2.PublicKey, K)
	m4 := post(pairSetupM3{State: 3, PublicKey: A, Proof: M1})
	if m4.State != 4 {
		t.Fatalf("M4: %+v", m4)
	}
	if m4.Error != 0 || len(m4.Proof) == 0 {
		return false
	}
	if want := h(A, M1, K); !bytes.Equal(m4.Proof, want) {
		t.Fatalf("the bridge's proof M2 is not H(A, M1, K)")
	}
	return true
}
