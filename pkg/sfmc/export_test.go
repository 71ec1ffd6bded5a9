package sfmc

// Waiting returns how many requests wait for a slot of b.
func (b *Budget) Waiting() int64 { return b.waiting.Load() }
