package main

import (
	"log/slog"

	"vakt/hub"
	uplinkmqtt "vakt/uplink/mqtt"
	"vakt/uplink/photos"
)

// stationMQTT builds the MQTT uplink (nil when none is configured) and, with cameras, the
// alarm photos that travel on it, sealed to the station's key and kept under the data
// directory; the station's signed photo holds and releases reach the photos through it.
// Nothing runs yet.
func stationMQTT(cfg Config, h *hub.Hub, logger *slog.Logger) (*uplinkmqtt.Uplink, *photos.Photos, error) {
	if cfg.UplinkMQTT == nil {
		return nil, nil, nil
	}
	um, err := uplinkmqtt.New(*cfg.UplinkMQTT, h, logger)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Photos == nil || len(cfg.Photos.Cameras) == 0 {
		return um, nil, nil
	}
	ph, err := photos.New(*cfg.Photos, h, cfg.DataDir, cfg.UplinkMQTT.Recipient(), um, photos.Options{Logger: logger, Reference: um.Topic("photos")})
	if err != nil {
		return nil, nil, err
	}
	if err := um.HandleStation("photo_hold", ph.Hold); err != nil {
		return nil, nil, err
	}
	if err := um.HandleStation("photo_release", ph.Release); err != nil {
		return nil, nil, err
	}
	return um, ph, nil
}
