// Package uplink delivers the event log to monitoring station receivers over SIA DC-09.
//
// The log is the outbox (package outbox, shared with the MQTT uplink). Each configured
// receiver keeps a durable cursor in the store, named "dc09/<receiver>": the last event it
// acknowledged or does not get. One goroutine per receiver wakes on new events (a hub
// subscription), on a path coming back, after a retry delay or on a safety tick (a new
// event for the receiver cuts a retry delay short), and sends the reportable events behind the cursor that
// pass the receiver's kinds filter, one at a time and in order, moving the cursor only past
// what the station acknowledged. So delivery is at least once and in order: a receiver that
// was down for hours gets everything when it is back, and a restart resends from the
// cursor. Each event goes out with DC-09 sequence number (seq−1) mod 9999 + 1, the same on
// every attempt and every path, for the station to drop repeats.
//
// A receiver created for the first time starts at the end of the log, so a newly connected
// station does not get the installation's whole history. Renaming a receiver makes a new
// one. The cursor of a receiver no longer configured is deleted at start
// (outbox.DeleteStale, with Config.CursorNames), so it does not hold back pruning.
//
// Each receiver has a primary path and optionally a backup (say Ethernet and a cellular
// modem's interface). Events go over the primary while it answers, over the backup while the
// primary fails. Each path is supervised by NULL polls; a path whose exchanges fail Retries
// times in a row, with back-off, is reported to the hub as an uplink fault
// ("<receiver>/primary"), which the engine logs as a reportable event (Contact ID 350 / SIA
// YC, zone 1 primary, 2 backup) that goes out over the other path; when the path answers
// again the fault is restored.
//
// The uplink also submits the periodic test report (Contact ID 602) on each receiver's
// schedule, and AwaitAck tells the UI when the station acknowledged a manual transmission
// test (601).
package uplink
