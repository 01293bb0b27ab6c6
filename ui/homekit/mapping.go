package homekit

import (
	"errors"

	"github.com/brutella/hap/characteristic"

	"vakt/hub"
)

// HomeKit's security system states.
const (
	stateStay      = characteristic.SecuritySystemCurrentStateStayArm
	stateAway      = characteristic.SecuritySystemCurrentStateAwayArm
	stateNight     = characteristic.SecuritySystemCurrentStateNightArm
	stateDisarmed  = characteristic.SecuritySystemCurrentStateDisarmed
	stateTriggered = characteristic.SecuritySystemCurrentStateAlarmTriggered
)

// ErrUnknownTarget is a target state HomeKit does not define.
var ErrUnknownTarget = errors.New("homekit: unknown target state")

// stateOf is the HomeKit state of a mode the user set: home is Stay, night Night, away
// Away, disarmed Disarm.
func stateOf(set hub.Mode) int {
	switch set {
	case hub.ModeArmedHome:
		return stateStay
	case hub.ModeArmedAway:
		return stateAway
	case hub.ModeArmedNight:
		return stateNight
	}
	return stateDisarmed
}

// modeOf is the mode a HomeKit target state asks for.
func modeOf(target int) (hub.Mode, error) {
	switch target {
	case characteristic.SecuritySystemTargetStateStayArm:
		return hub.ModeArmedHome, nil
	case characteristic.SecuritySystemTargetStateAwayArm:
		return hub.ModeArmedAway, nil
	case characteristic.SecuritySystemTargetStateNightArm:
		return hub.ModeArmedNight, nil
	case characteristic.SecuritySystemTargetStateDisarm:
		return hub.ModeDisarmed, nil
	}
	return 0, ErrUnknownTarget
}

// alarmed reports whether an alarm sounds in the area or waits to be acknowledged.
func alarmed(a *hub.AreaState) bool {
	return a.Mode == hub.ModeTriggered || a.Siren != hub.SirenOff || len(a.Memory) > 0 || len(a.FireMemory) > 0
}

// areaStates returns an area's HomeKit current and target state. Target is the mode the
// user set: during the exit delay the mode asked for, and after a failed or cancelled
// arming the disarmed mode again, so that it equals current. Current is AlarmTriggered
// while an alarm sounds or is unacknowledged; during the exit delay Disarm, which is what
// the area is until the delay ends (also when switching from another armed mode, which the
// hub does by disarming first; and the same after a restart, which needs no memory of
// before); during the entry delay the area is still armed.
func areaStates(a *hub.AreaState) (current, target int) {
	target = stateOf(a.Set)
	switch {
	case alarmed(a):
		current = stateTriggered
	case a.Mode == hub.ModeArming:
		current = stateDisarmed
	default:
		current = stateOf(a.Set)
	}
	return current, target
}
