// Package pluginrpc holds the generated gRPC code of the connector protocol, the
// go-plugin glue around it, and both ends of protocol version 2's call stream
// (Mux in the hub, ServeCalls in the connector) and of version 3's data plane
// (DataClient in the hub, ServeData in the connector). It is internal to the
// SDK: connector authors and the engine see only sdk.Serve and sdk/host.
package pluginrpc

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative connector.proto"
