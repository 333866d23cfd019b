// Package delhivery is the hub's connector for Delhivery Express, India's B2C
// parcel network (connector id delhivery_express). It books shipments
// (POST /api/cmu/create.json), tracks them (GET /api/v1/packages/json/) and cancels
// them (POST /api/p/edit), authenticating every call with the account's static
// token in an "Authorization: Token <api_token>" header. The account's BaseURL
// picks the host: track.delhivery.com in production, staging-express.delhivery.com
// in the sandbox, or a simulator in tests.
//
// The package is split the way the design asks: translate.go holds pure functions
// between the canonical model and Delhivery's wire types (wire.go), so the mapping
// can move onto the declarative mapping language later; transport.go sends one
// request and classifies the outcome; connector.go wires the two together. The
// simulator subpackage answers in Delhivery's documented shapes for tests.
//
// # Status mapping
//
// Delhivery reports a StatusType (UD forward undelivered, DL delivered, RT
// return, PP pickup pending, PU picked up, CN cancelled) and a Status text. The
// pair maps onto the canonical status and sub-status below. raw_code is always
// "<StatusType>" or "<StatusType>/<StatusCode>" when Delhivery sends a StatusCode
// (for example "UD/X-PPOM"); raw_text is the Status text, followed by ": " and the
// Instructions when there are any (for example "In Transit: Shipment picked up").
//
//	StatusType  Status                 canonical             sub_status
//	UD          Manifested             pending               manifested
//	UD          Not Picked             pending               not_picked_up
//	UD          In Transit             in_transit            in_transit
//	UD          Pending                in_transit            at_destination_hub
//	UD          Pending + NDR code(*)  attempt_failed        delivery_attempt_failed (reason: Instructions)
//	UD          Dispatched             out_for_delivery      out_for_delivery
//	DL          Delivered              delivered             delivered
//	DL          RTO                    returned              returned_to_origin
//	DL          DTO                    delivered             delivered_to_origin
//	RT          In Transit             returning             return_in_transit
//	RT          Pending                returning             return_at_origin_hub
//	RT          Dispatched             returning             return_out_for_delivery
//	PP          Open                   pending               pickup_requested
//	PP          Scheduled              pending               pickup_scheduled
//	PP          Dispatched             pending               out_for_pickup
//	PU          In Transit             in_transit            picked_up
//	PU          Pending                in_transit            at_return_hub
//	PU          Dispatched             out_for_delivery      out_for_delivery_to_origin
//	CN          Canceled / Cancelled   cancelled             cancelled
//	CN          Closed                 cancelled             closed
//	any         Cancelled / Canceled   cancelled             cancelled
//	UD          anything else          in_transit            snake_case of the Status text
//	DL          anything else          delivered             snake_case of the Status text
//	RT          anything else          returning             snake_case of the Status text
//	PP          anything else          pending               snake_case of the Status text
//	PU          anything else          in_transit            snake_case of the Status text
//	CN          anything else          cancelled             snake_case of the Status text
//	other       anything               unknown               snake_case of the Status text
//
// (*) The NDR (non-delivery report) codes are those Delhivery's NDR API accepts
// as "a delivery was attempted and failed": EOD-3, EOD-6, EOD-11, EOD-15, EOD-16,
// EOD-43, EOD-69, EOD-74, EOD-86, EOD-104 and ST-108.
//
// Delhivery sends times without a UTC offset; they are read as Asia/Kolkata
// (IST, UTC+05:30). ScannedLocation "Amritsar_VerkaBypss_I (Punjab)" becomes
// facility "Amritsar_VerkaBypss_I", city "Amritsar", state "Punjab", country IN.
//
// # Errors
//
// Every failure is an *sdk.Error. HTTP 401/403 is auth_failed; 429 is
// rate_limited with Retry-After; 5xx, HTML error pages and connection failures are
// carrier_unavailable (NotSent when the request never left); a create answered
// with success=false is invalid_request (or conflict for a duplicate order id, or
// permanent for an account problem such as an empty wallet) carrying Delhivery's
// remarks verbatim in CarrierMessage. Responses larger than 10 MiB are refused.
//
// This package imports only sdk and the standard library; it must not import
// engine.
package delhivery
