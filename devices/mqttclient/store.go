package mqttclient

import (
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's memory store keeping private copies of publish packets. On reconnect
// paho marks every stored publish as a duplicate (p.Dup = true) and sends it again, while
// its writer may still be writing the very same packet object: a data race in paho v1.5.0
// that the race detector finds. Copying on Put (in the writer's goroutine, before the
// write) and on Get keeps the stored packet apart from every packet on the wire.
type copyStore struct {
	*paho.MemoryStore
}

func newCopyStore() copyStore { return copyStore{paho.NewMemoryStore()} }

func (s copyStore) Put(key string, p packets.ControlPacket) { s.MemoryStore.Put(key, clonePublish(p)) }

func (s copyStore) Get(key string) packets.ControlPacket { return clonePublish(s.MemoryStore.Get(key)) }

// clonePublish copies a publish packet; the payload is only ever read, so it is shared.
func clonePublish(p packets.ControlPacket) packets.ControlPacket {
	if pp, ok := p.(*packets.PublishPacket); ok {
		c := *pp
		return &c
	}
	return p
}
