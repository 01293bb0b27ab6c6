package rtl433

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// What an RTL-SDR dongle tuned to 433.92 MHz at 250 kS/s hands rtl_433: unsigned 8-bit
// I/Q pairs ("cu8"), 127.5 being zero.
const (
	sampleRate = 250_000.0
	// carrierOffset puts the sensor's carrier a little off the tuned frequency, as a real
	// transmitter's crystal does; rtl_433 reports it as "freq" with -M level.
	carrierOffset = 30_000.0
	amplitude     = 100.0
	noiseSigma    = 1.5
)

// Kerui (EV1527-style) timing as rtl_433's kerui.c expects it: PWM with a short pulse of
// 420 µs and a long one of 960 µs (tolerance 160 µs), gaps within a word under 1100 µs, a
// word ending in a short sync pulse and a long gap (more than 1100 µs ends the row, less
// than 9900 µs keeps the rows one message). kerui.c wants at least 9 identical rows of 25
// bits: 24 data bits and the sync. A long pulse is a 1 bit.
const (
	keruiShort   = 420 * time.Microsecond
	keruiLong    = 960 * time.Microsecond
	keruiSyncGap = 7 * time.Millisecond
	keruiRepeats = 12
)

// Kerui commands (the low nibble of the word), as kerui.c names them.
const (
	keruiMotion  = 0xa
	keruiOpen    = 0xe
	keruiClose   = 0x7
	keruiTamper  = 0xb
	keruiWater   = 0x5
	keruiBattery = 0xf
)

// iq builds cu8 samples: carrier on and off, with a little noise throughout.
type iq struct {
	buf   []byte
	phase float64
	rnd   *rand.Rand
}

func newIQ(seed uint64) *iq { return &iq{rnd: rand.New(rand.NewPCG(seed, 433920000))} }

func (s *iq) add(d time.Duration, carrier bool) {
	n := int(d.Seconds() * sampleRate)
	for range n {
		i, q := 127.5, 127.5
		if carrier {
			i += amplitude * math.Cos(s.phase)
			q += amplitude * math.Sin(s.phase)
		}
		s.phase = math.Mod(s.phase+2*math.Pi*carrierOffset/sampleRate, 2*math.Pi)
		s.buf = append(s.buf, u8(i+s.rnd.NormFloat64()*noiseSigma), u8(q+s.rnd.NormFloat64()*noiseSigma))
	}
}

func u8(v float64) byte { return byte(max(0, min(255, math.Round(v)))) }

// keruiBurst returns one transmission of a Kerui sensor: the 24-bit word (20-bit id, 4-bit
// command) sent keruiRepeats times, each followed by the sync pulse and gap.
func keruiBurst(id uint32, cmd byte, seed uint64) []byte {
	s := newIQ(seed)
	word := id<<4 | uint32(cmd&0xf)
	for range keruiRepeats {
		for bit := 23; bit >= 0; bit-- {
			if word>>bit&1 == 1 {
				s.add(keruiLong, true)
				s.add(keruiShort, false)
			} else {
				s.add(keruiShort, true)
				s.add(keruiLong, false)
			}
		}
		s.add(keruiShort, true)
		s.add(keruiSyncGap, false)
	}
	return s.buf
}

// silence returns d of an empty channel.
func silence(d time.Duration, seed uint64) []byte {
	s := newIQ(seed)
	s.add(d, false)
	return s.buf
}

// rtl433Binary finds rtl_433; the tests that run it need it.
func rtl433Binary(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("rtl_433")
	if err != nil {
		tb.Fatal("rtl_433 is not installed: these tests run the real decoder (Debian: apt-get install rtl-433)")
	}
	return path
}

// TestSynth_DecodedByRtl433 checks the synthesizer against the real decoder: rtl_433
// reads a recording of each Kerui command from a file (the name tells it the frequency and
// rate) and writes JSON, which Decode turns into the expected signals.
func TestSynth_DecodedByRtl433(t *testing.T) {
	bin := rtl433Binary(t)
	const id = 0x5a3c1 // 369601
	for _, tc := range []struct {
		name    string
		cmd     byte
		signals string
	}{
		{"open", keruiOpen, "contact+"},
		{"close", keruiClose, "contact-"},
		{"motion", keruiMotion, "motion+"},
		{"tamper", keruiTamper, "tamper+"},
		{"water", keruiWater, "water+"},
		{"battery", keruiBattery, "battery_low+"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec bytes.Buffer
			rec.Write(silence(50*time.Millisecond, 1))
			rec.Write(keruiBurst(id, tc.cmd, 2))
			rec.Write(silence(100*time.Millisecond, 3))
			file := filepath.Join(t.TempDir(), "kerui_"+tc.name+"_433.92M_250k.cu8")
			if err := os.WriteFile(file, rec.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, "-r", file, "-R", "68", "-F", "json", "-M", "level")
			cmd.Stderr = &stderr
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("rtl_433: %v\n%s", err, stderr.Bytes())
			}
			var events int
			for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
				r, err := Decode(sc.Bytes())
				if err != nil {
					t.Fatalf("%s: %v", sc.Bytes(), err)
				}
				events++
				if r.Address != "Kerui-Security/369601" || signalString(r.Signals) != tc.signals {
					t.Errorf("%s: address %q signals %q, want Kerui-Security/369601 %q", sc.Bytes(), r.Address, signalString(r.Signals), tc.signals)
				}
			}
			if events == 0 {
				t.Fatalf("rtl_433 decoded nothing\n%s", stderr.Bytes())
			}
		})
	}
}
