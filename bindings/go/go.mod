module influencer_profiler/bindings/go

go 1.19
