// The read models and projections (part 3).
// Included (hidden) by the tutorial's later code blocks; see the part that shows it.
/// One line of an order summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryLine {
    pub sku: String,
    pub qty: u32,
    pub price_cents: u64,
}

/// A row per order: what a customer's order page shows.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "order_summaries")]
pub struct OrderSummary {
    #[read_model(id)]
    pub id: String,
    #[read_model(index)]
    pub customer_id: String,
    #[read_model(index)]
    pub status: String,
    /// A JSON column.
    pub lines: Vec<SummaryLine>,
    #[read_model(index)]
    pub total_cents: i64,
}

/// Keeps `OrderSummary` rows in the append's transaction.
pub struct OrderSummaries {
    pub repo: ReadModelRepository<OrderSummary>,
}

#[projection(name = "order-summaries", kind = inline)]
impl OrderSummaries {
    async fn on_order(
        &self,
        event: &OrderEvent,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        let id = envelope.stream_id.trim_start_matches("order-").to_owned();
        let tx = ctx.transaction().ok_or("an inline projection runs in a transaction")?;
        let mut rows = self.repo.in_tx(tx);
        match event {
            OrderEvent::Created { customer_id } => {
                rows.insert(&OrderSummary {
                    id,
                    customer_id: customer_id.clone(),
                    status: "open".into(),
                    lines: Vec::new(),
                    total_cents: 0,
                })
                .await?
            }
            OrderEvent::ItemAdded { sku, qty, price_cents } => {
                let line = SummaryLine { sku: sku.clone(), qty: *qty, price_cents: *price_cents };
                rows.update(id.as_str(), |o| {
                    o.lines.push(line);
                    o.total_cents = total_of(&o.lines);
                })
                .await?;
            }
            OrderEvent::ItemRemoved { sku } => {
                rows.update(id.as_str(), |o| {
                    o.lines.retain(|l| &l.sku != sku);
                    o.total_cents = total_of(&o.lines);
                })
                .await?;
            }
            OrderEvent::Shipped { .. } => {
                rows.update(id.as_str(), |o| o.status = "shipped".into()).await?;
            }
        }
        Ok(())
    }
}

fn total_of(lines: &[SummaryLine]) -> i64 {
    let cents: u64 = lines.iter().map(|l| u64::from(l.qty) * l.price_cents).sum();
    i64::try_from(cents).unwrap_or(i64::MAX)
}

/// Units ordered per SKU.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "sku_sales")]
pub struct SkuSales {
    #[read_model(id)]
    pub sku: String,
    #[read_model(index)]
    pub units: i64,
}

/// Counts `SkuSales` in a background worker; each batch's rows commit
/// with its checkpoint.
pub struct SalesPerSku {
    pub repo: ReadModelRepository<SkuSales>,
}

#[projection(name = "sales-per-sku", kind = async)]
impl SalesPerSku {
    async fn on_order(
        &self,
        event: &OrderEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        let OrderEvent::ItemAdded { sku, qty, .. } = event else {
            return Ok(());
        };
        let tx = ctx.transaction().ok_or("an async projection runs in a transaction")?;
        let mut sales = self.repo.in_tx(tx);
        let mut row = sales
            .find_by_id(sku.as_str())
            .await?
            .unwrap_or(SkuSales { sku: sku.clone(), units: 0 });
        row.units += i64::from(*qty);
        sales.upsert(&row).await?;
        Ok(())
    }
}
