// Package admin is lbd's admin API (docs/operations.md, "Draining from the
// load balancer"): POST /admin/drain and /admin/undrain, which need a
// bearer token of [lbd] admin_token_file, and the open GET /overrides.
//
// A request is validated against the configuration (editFor), turned into
// an override.Edit and handed to the daemon (Backend.Submit), which queues
// it in a Queue and makes the alias due; the request then waits, at most
// Wait, for the cycle that writes it. The cycle takes the pending edits of
// its due aliases (Queue.Take, the Edits input of cycle.Decide) and tells
// each requester how it went (Queue.Settle); an edit whose alias failed is
// queued again for the next cycle.
package admin
