module influencer_profiler/examples/go

go 1.19

require influencer_profiler/bindings/go v0.0.0

replace influencer_profiler/bindings/go => ../../bindings/go
