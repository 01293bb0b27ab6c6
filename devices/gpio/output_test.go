package gpio

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
)

// ms is a point on a recorded timeline.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func checkChanges(t *testing.T, what string, got []change, want ...change) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s changes:\n\tgot  %v\n\twant %v", what, got, want)
	}
}

// sirenRig runs a driver with a recorded siren relay and strobe; the strobe's relay
// board is active low.
func sirenRig(t *testing.T) (d *running, siren, strobe *recPin) {
	siren, strobe = newRecPin(t), newRecPin(t)
	d = start(t, Config{Siren: OutputConfig{Pin: siren.N}, Strobe: OutputConfig{Pin: strobe.N, ActiveLow: true}})
	synctest.Wait()
	checkChanges(t, "siren at start", siren.take(), change{0, low})
	checkChanges(t, "strobe at start", strobe.take(), change{0, high})
	return d, siren, strobe
}

func TestDriver_SirenBurglarSteady(t *testing.T) {
	for _, p := range []hub.SirenPattern{hub.SirenBurglar, hub.SirenEmergency} {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, siren, strobe := sirenRig(t)
				time.Sleep(time.Second)
				d.SetSiren(p)
				time.Sleep(3 * time.Minute)
				d.SetSiren(hub.SirenOff)
				time.Sleep(time.Minute)
				synctest.Wait()
				checkChanges(t, "siren", siren.take(), change{ms(1000), high}, change{ms(181_000), low})
				checkChanges(t, "strobe", strobe.take(), change{ms(1000), low}, change{ms(181_000), high})
			})
		})
	}
}

func TestDriver_SirenFireTemporal3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, siren, strobe := sirenRig(t)
		time.Sleep(time.Second)
		d.SetSiren(hub.SirenFire)
		if got := d.Status().Siren; got != hub.SirenFire {
			t.Errorf("status siren %s, want fire", got)
		}
		// Two full 4 s cycles, then off in the middle of the next first pulse.
		time.Sleep(8250 * time.Millisecond)
		d.SetSiren(hub.SirenOff)
		time.Sleep(time.Minute)
		synctest.Wait()
		var want []change
		for cycle := range 3 {
			at := 1000 + 4000*cycle
			for pulse := range 3 {
				if cycle == 2 && pulse > 0 {
					break
				}
				want = append(want, change{ms(at + 1000*pulse), high}, change{ms(at + 1000*pulse + 500), low})
			}
		}
		want[len(want)-1] = change{ms(9250), low} // cut at once, not at the pulse's end
		checkChanges(t, "siren", siren.take(), want...)
		checkChanges(t, "strobe", strobe.take(), change{ms(1000), low}, change{ms(9250), high})
	})
}

func TestDriver_SirenBurglarThenFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A fire during a burglar alarm switches the relay to temporal-3 from its start.
		d, siren, _ := sirenRig(t)
		d.SetSiren(hub.SirenBurglar)
		time.Sleep(10 * time.Second)
		d.SetSiren(hub.SirenFire) // already on: the first pulse continues
		time.Sleep(2 * time.Second)
		d.SetSiren(hub.SirenFire) // unchanged: the pattern does not restart
		time.Sleep(1 * time.Second)
		synctest.Wait()
		checkChanges(t, "siren", siren.take(),
			change{0, high}, change{ms(10_500), low}, change{ms(11_000), high}, change{ms(11_500), low},
			change{ms(12_000), high}, change{ms(12_500), low})
	})
}

func TestDriver_SirenOffWhenRunEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, siren, strobe := sirenRig(t)
		d.SetSiren(hub.SirenBurglar)
		time.Sleep(time.Second)
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
		checkChanges(t, "siren", siren.take(), change{0, high}, change{ms(1000), low})
		checkChanges(t, "strobe", strobe.take(), change{0, low}, change{ms(1000), high})
	})
}

func TestDriver_SetSirenNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		siren := newRecPin(t)
		d, err := New(Config{Siren: OutputConfig{Pin: siren.N}}, func(hub.Input) {}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		// Nothing runs the pattern yet: every call must still return at once.
		for i := range 1000 {
			d.SetSiren(hub.SirenPattern(i % 4))
			d.SetLED(LEDMode(i % 3))
		}
		d.SetSiren(hub.SirenFire)
		if got := siren.take(); got != nil {
			t.Fatalf("siren driven before Run: %v", got)
		}
		// Run picks up the latest pattern.
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(600 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		checkChanges(t, "siren", siren.take(), change{0, low}, change{0, high}, change{ms(500), low})
	})
}

func TestDriver_LED(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		led := newRecPin(t)
		d := start(t, Config{LED: OutputConfig{Pin: led.N}})
		d.SetLED(LEDOn)
		time.Sleep(time.Second)
		d.SetLED(LEDBlink)
		time.Sleep(2200 * time.Millisecond)
		d.SetLED(LEDOff)
		time.Sleep(time.Second)
		synctest.Wait()
		// On is already on when blinking starts; blinking is 0.5 s on, 0.5 s off.
		checkChanges(t, "led", led.take(), change{0, low}, change{0, high},
			change{ms(1500), low}, change{ms(2000), high}, change{ms(2500), low}, change{ms(3000), high}, change{ms(3200), low})
		if got := d.Status().LED; got != LEDOff {
			t.Errorf("status LED %d, want off", got)
		}
	})
}

// An unknown pattern is an error naming it and changes nothing: the relay keeps playing.
func TestDriver_SetSirenUnknownPattern(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, siren, _ := sirenRig(t)
		if err := d.SetSiren(hub.SirenBurglar); err != nil {
			t.Fatal(err)
		}
		err := d.SetSiren(hub.SirenPattern(9))
		if !errors.Is(err, hub.ErrUnknownSirenPattern) || !strings.Contains(err.Error(), "9") {
			t.Fatalf("SetSiren(9): %v, want an error naming the pattern", err)
		}
		synctest.Wait()
		checkChanges(t, "siren", siren.take(), change{0, high})
		if got := d.Status().Siren; got != hub.SirenBurglar {
			t.Errorf("status siren %s, want burglar still", got)
		}
	})
}

// An unknown LED mode is an error naming it and changes nothing, not a silent "off".
func TestDriver_SetLEDUnknownMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		led := newRecPin(t)
		d := start(t, Config{LED: OutputConfig{Pin: led.N}})
		if err := d.SetLED(LEDOn); err != nil {
			t.Fatal(err)
		}
		if err := d.SetLED(LEDMode(7)); err == nil || !strings.Contains(err.Error(), "7") {
			t.Fatalf("SetLED(7): %v, want an error naming the mode", err)
		}
		synctest.Wait()
		checkChanges(t, "led", led.take(), change{0, low}, change{0, high})
		if got := d.Status().LED; got != LEDOn {
			t.Errorf("status LED %s, want on still", got)
		}
	})
}
