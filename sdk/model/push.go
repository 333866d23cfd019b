package model

// PushRequest is what a provider POSTed to the hub's inbound URL
// (POST /v1/inbound/{connector}/{account}), handed to the connector's
// receive_push as received so it can check the provider's signature over the
// exact bytes.
type PushRequest struct {
	// Headers are the request's headers by lower-case name, several values of
	// one name joined with ", "; hop-by-hop and proxy headers are left out.
	Headers map[string]string `json:"headers,omitempty"`
	// Query is the URL query by name, several values joined with ",".
	Query map[string]string `json:"query,omitempty"`
	// ContentType is the Content-Type header, verbatim.
	ContentType string `json:"content_type,omitempty"`
	// Body is the request body, byte for byte (base64 in JSON).
	Body []byte `json:"body"`
}

// PushResponse is what a push said: tracking results and proofs of delivery,
// which the hub records like those of track and get_pod.
type PushResponse struct {
	// Results holds one entry per shipment the push reported on.
	Results []Tracking `json:"results"`
	// PODs are proofs of delivery the push carried.
	PODs []ProofOfDelivery `json:"pods,omitempty"`
}
