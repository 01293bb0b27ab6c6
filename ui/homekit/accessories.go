package homekit

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/brutella/hap/accessory"
	"github.com/brutella/hap/characteristic"
	"github.com/brutella/hap/service"

	"vakt/devices"
	"vakt/hub"
)

// MaxAccessories is how many accessories the bridge exposes besides itself. HAP allows 150
// per bridge; the Home app gets slow well before, so devices beyond it are not bridged, and
// the log names them.
const MaxAccessories = 100

// sensor kinds, what a device is to HomeKit.
const (
	kindContact = "contact"
	kindMotion  = "motion"
	kindSmoke   = "smoke"
	kindLeak    = "leak"
	kindTemp    = "temperature"
	kindOutlet  = "outlet"
	kindLock    = "lock"
)

// plan is which accessories the bridge exposes for an installation: what must stay the
// same for the running bridge to keep serving; any change rebuilds it.
type plan struct {
	areas   []areaPlan
	devices []devicePlan
	// left are the devices that had no room on the bridge.
	left []string
}

type areaPlan struct {
	aid    uint64
	number int
	name   string
}

type devicePlan struct {
	aid   uint64
	id    string
	name  string
	model string
	area  int
	// zone is the index of the device's zone in the installation, -1 if none.
	zone  int
	kinds []string
}

// key is the plan in a comparable form.
func (p *plan) key() string {
	var b strings.Builder
	for _, a := range p.areas {
		fmt.Fprintf(&b, "a%d/%d/%s;", a.aid, a.number, a.name)
	}
	for _, d := range p.devices {
		fmt.Fprintf(&b, "d%d/%s/%s/%s/%d/%d/%v;", d.aid, d.id, d.name, d.model, d.area, d.zone, d.kinds)
	}
	return b.String()
}

// accessoryID derives an accessory id from a persistent name (an area's number, a
// device's id), so that ids stay the same across restarts and whatever else is added or
// removed. 48 bits keep it exact in a controller's JSON numbers; 1 is the bridge's.
func accessoryID(name string, taken map[uint64]bool) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	id := h.Sum64() >> 16
	for id < 2 || taken[id] {
		id = (id + 1) & (1<<48 - 1)
	}
	taken[id] = true
	return id
}

// planFor decides the accessories for an installation and the devices' health.
func planFor(inst *hub.Installation, health map[string]devices.Health) plan {
	var p plan
	taken := map[uint64]bool{}
	for _, a := range inst.Areas {
		p.areas = append(p.areas, areaPlan{aid: accessoryID(fmt.Sprintf("area:%d", a.Number), taken), number: a.Number, name: a.Name})
	}
	for _, d := range inst.Devices {
		dp := devicePlan{id: d.ID, name: d.Name, model: d.Model, area: d.Area, zone: -1}
		if dp.name == "" {
			dp.name = d.ID
		}
		switch d.Kind {
		case "plug":
			dp.kinds = []string{kindOutlet}
		case "lock":
			dp.kinds = []string{kindLock}
		case "", "sensor":
			if zi := slices.IndexFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == d.ID }); zi >= 0 {
				z := inst.Zones[zi]
				dp.zone, dp.area = zi, z.Area
				switch {
				case z.Type == hub.ZoneFire:
					dp.kinds = append(dp.kinds, kindSmoke)
				case z.Type == hub.ZoneTechnical:
					dp.kinds = append(dp.kinds, kindLeak)
				case z.Type.Intrusion() && z.Interior:
					dp.kinds = append(dp.kinds, kindMotion)
				case z.Type.Intrusion():
					dp.kinds = append(dp.kinds, kindContact)
				}
			}
			if health[d.ID].Temperature != nil {
				dp.kinds = append(dp.kinds, kindTemp)
			}
		}
		if len(dp.kinds) == 0 {
			continue // sirens, keypads, panic buttons: HomeKit has no service for them
		}
		if len(p.areas)+len(p.devices) >= MaxAccessories {
			p.left = append(p.left, fmt.Sprintf("%s (%s)", dp.name, d.ID))
			continue
		}
		dp.aid = accessoryID("device:"+d.ID, taken)
		p.devices = append(p.devices, dp)
	}
	return p
}

// areaAccessory is one area's Security System.
type areaAccessory struct {
	plan      areaPlan
	a         *accessory.SecuritySystem
	fault     *characteristic.StatusFault
	tampered  *characteristic.StatusTampered
	alarmType *characteristic.SecuritySystemAlarmType
}

func newAreaAccessory(p areaPlan) *areaAccessory {
	aa := &areaAccessory{plan: p}
	aa.a = accessory.NewSecuritySystem(accessory.Info{Name: p.name, Manufacturer: "vakt", Model: "area", SerialNumber: fmt.Sprintf("area-%d", p.number)})
	aa.a.Id = p.aid
	aa.fault = characteristic.NewStatusFault()
	aa.tampered = characteristic.NewStatusTampered()
	aa.alarmType = characteristic.NewSecuritySystemAlarmType()
	s := aa.a.SecuritySystem
	s.AddC(aa.fault.C)
	s.AddC(aa.tampered.C)
	s.AddC(aa.alarmType.C)
	return aa
}

// update shows the area's state in snap.
func (aa *areaAccessory) update(snap *hub.Snapshot, busy func(*characteristic.C) bool) {
	i := slices.IndexFunc(snap.State.Areas, func(a hub.AreaState) bool { return a.Number == aa.plan.number })
	if i < 0 {
		return
	}
	a := &snap.State.Areas[i]
	cur, tgt := areaStates(a)
	s := aa.a.SecuritySystem
	if !busy(s.SecuritySystemTargetState.C) {
		s.SecuritySystemTargetState.SetValue(tgt)
	}
	s.SecuritySystemCurrentState.SetValue(cur)
	aa.alarmType.SetValue(boolInt(alarmed(a)))
	fault, tamper := snap.State.HubBatteryLow || snap.State.SirenFault || snap.State.DiskFault || len(snap.State.UplinkFaults) > 0, snap.State.HubTamper
	for _, z := range snap.Installation.Zones {
		if z.Area != aa.plan.number {
			continue
		}
		if ds := deviceState(snap, z.Device); ds != nil {
			fault = fault || ds.Fault || ds.Missing || ds.Jamming
			tamper = tamper || ds.Tamper
		}
	}
	aa.fault.SetValue(boolInt(fault))
	aa.tampered.SetValue(boolInt(tamper))
}

// deviceAccessory is one device's accessory with its services.
type deviceAccessory struct {
	plan    devicePlan
	a       *accessory.A
	contact *service.ContactSensor
	motion  *service.MotionSensor
	smoke   *service.SmokeSensor
	leak    *service.LeakSensor
	temp    *service.TemperatureSensor
	outlet  *service.Outlet
	lock    *service.LockMechanism
	// status are each sensor service's StatusLowBattery, StatusTampered, StatusFault and
	// StatusActive.
	status []sensorStatus
}

type sensorStatus struct {
	battery *characteristic.StatusLowBattery
	tamper  *characteristic.StatusTampered
	fault   *characteristic.StatusFault
	active  *characteristic.StatusActive
}

func newDeviceAccessory(p devicePlan) *deviceAccessory {
	typ := byte(accessory.TypeSensor)
	switch p.kinds[0] {
	case kindOutlet:
		typ = accessory.TypeOutlet
	case kindLock:
		typ = accessory.TypeDoorLock
	}
	da := &deviceAccessory{plan: p}
	da.a = accessory.New(accessory.Info{Name: p.name, Manufacturer: "vakt", Model: or(p.model, "device"), SerialNumber: p.id}, typ)
	da.a.Id = p.aid
	withStatus := func(s *service.S) {
		st := sensorStatus{
			battery: characteristic.NewStatusLowBattery(),
			tamper:  characteristic.NewStatusTampered(),
			fault:   characteristic.NewStatusFault(),
			active:  characteristic.NewStatusActive(),
		}
		st.active.SetValue(true)
		s.AddC(st.battery.C)
		s.AddC(st.tamper.C)
		s.AddC(st.fault.C)
		s.AddC(st.active.C)
		da.status = append(da.status, st)
		da.a.AddS(s)
	}
	for _, k := range p.kinds {
		switch k {
		case kindContact:
			da.contact = service.NewContactSensor()
			withStatus(da.contact.S)
		case kindMotion:
			da.motion = service.NewMotionSensor()
			withStatus(da.motion.S)
		case kindSmoke:
			da.smoke = service.NewSmokeSensor()
			withStatus(da.smoke.S)
		case kindLeak:
			da.leak = service.NewLeakSensor()
			withStatus(da.leak.S)
		case kindTemp:
			da.temp = service.NewTemperatureSensor()
			da.temp.CurrentTemperature.SetMinValue(-40)
			withStatus(da.temp.S)
		case kindOutlet:
			da.outlet = service.NewOutlet()
			da.a.AddS(da.outlet.S)
		case kindLock:
			da.lock = service.NewLockMechanism()
			da.lock.LockCurrentState.SetValue(characteristic.LockCurrentStateUnknown)
			da.a.AddS(da.lock.S)
		}
	}
	return da
}

// update shows the device's state in snap and its health.
func (da *deviceAccessory) update(snap *hub.Snapshot, health map[string]devices.Health, busy func(*characteristic.C) bool) {
	open := false
	if z := da.plan.zone; z >= 0 && z < len(snap.State.Zones) {
		open = snap.State.Zones[z].Active
	}
	if da.contact != nil {
		da.contact.ContactSensorState.SetValue(boolInt(open)) // 0: contact (closed)
	}
	if da.motion != nil {
		da.motion.MotionDetected.SetValue(open)
	}
	if da.smoke != nil {
		da.smoke.SmokeDetected.SetValue(boolInt(open))
	}
	if da.leak != nil {
		da.leak.LeakDetected.SetValue(boolInt(open))
	}
	h, known := health[da.plan.id]
	if da.temp != nil && h.Temperature != nil {
		da.temp.CurrentTemperature.SetValue(*h.Temperature)
	}
	if da.outlet != nil && h.Switch != nil && !busy(da.outlet.On.C) {
		da.outlet.On.SetValue(*h.Switch)
		da.outlet.OutletInUse.SetValue(*h.Switch)
	}
	if da.lock != nil && known && !busy(da.lock.LockTargetState.C) {
		cur, tgt := lockStates(h.Lock, da.lock.LockTargetState.Value())
		da.lock.LockCurrentState.SetValue(cur)
		da.lock.LockTargetState.SetValue(tgt)
	}
	ds := deviceState(snap, da.plan.id)
	if ds == nil {
		ds = &hub.DeviceState{}
	}
	for _, st := range da.status {
		st.battery.SetValue(boolInt(ds.BatteryLow))
		st.tamper.SetValue(boolInt(ds.Tamper))
		st.fault.SetValue(boolInt(ds.Fault || ds.Jamming))
		st.active.SetValue(!ds.Missing && !h.Missing)
	}
}

// lockStates maps a lock's reported state to HomeKit's current and target states; the
// target follows the lock once it reports a settled state.
func lockStates(s string, target int) (current, newTarget int) {
	switch s {
	case "locked":
		return characteristic.LockCurrentStateSecured, characteristic.LockTargetStateSecured
	case "unlocked":
		return characteristic.LockCurrentStateUnsecured, characteristic.LockTargetStateUnsecured
	case "jammed":
		return characteristic.LockCurrentStateJammed, target
	}
	return characteristic.LockCurrentStateUnknown, target
}

func deviceState(snap *hub.Snapshot, id string) *hub.DeviceState {
	for i := range snap.State.Devices {
		if snap.State.Devices[i].ID == id {
			return &snap.State.Devices[i]
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
