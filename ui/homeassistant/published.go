package homeassistant

import (
	"encoding/json"
	"fmt"
	"slices"

	"vakt/hub"
)

// driverName is the name under which the bridge keeps its data in the store's driver data.
const driverName = "homeassistant"

// publishedKey holds the retained topics the bridge has published.
const publishedKey = "published"

// published is the set of retained topics vakt has published to Home Assistant (discovery
// configs, states, availability), kept in the store: what is in it and no longer wanted
// (a removed device, a changed node id) is cleared with an empty retained message, also
// after a restart, so that Home Assistant removes the entity.
type published struct {
	s      *hub.Store
	topics map[string]bool
}

func loadPublished(s *hub.Store) (*published, error) {
	p := &published{s: s, topics: map[string]bool{}}
	b, err := s.DriverData(driverName, publishedKey)
	if err != nil || b == nil {
		return p, err
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("homeassistant: published topics in the store: %w", err)
	}
	for _, t := range list {
		p.topics[t] = true
	}
	return p, nil
}

// add records the topics of m before they are published, durably; it writes only when
// one is new.
func (p *published) add(m map[string][]byte) error {
	grew := false
	for t := range m {
		if !p.topics[t] {
			p.topics[t] = true
			grew = true
		}
	}
	if !grew {
		return nil
	}
	return p.save()
}

// remove forgets topics once they are cleared on the broker.
func (p *published) remove(topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	for _, t := range topics {
		delete(p.topics, t)
	}
	return p.save()
}

// stale returns the recorded topics not in want, sorted.
func (p *published) stale(want map[string][]byte) []string {
	var out []string
	for t := range p.topics {
		if _, ok := want[t]; !ok {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func (p *published) save() error {
	list := make([]string, 0, len(p.topics))
	for t := range p.topics {
		list = append(list, t)
	}
	slices.Sort(list)
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return p.s.SaveDriverData(driverName, publishedKey, b)
}
