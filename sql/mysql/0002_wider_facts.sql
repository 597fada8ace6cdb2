-- Wider money in the daily facts. One amount is below 10^13 (DECIMAL(18,2) holds it), but a day's
-- total of one user, payment method or product adds up to thousands of them and passed
-- DECIMAL(18,2)'s 10^16, which stops the warehouse (strict mode refuses the out-of-range value).
-- DECIMAL(38,2) holds the sum of 2^63 - 1 (a BIGINT count of) amounts below 10^13, about 9.2 * 10^31;
-- 38 digits is also the widest decimal of Parquet and DuckDB, which recompute these sums.
-- The averages stay DECIMAL(18,2): an average is never above the largest amount averaged (units_sold
-- is at least the number of purchases, so avg_price_eur too).

ALTER TABLE fact_user_transaction_summary MODIFY total_amount DECIMAL(38,2) NOT NULL;

ALTER TABLE fact_user_transaction_summary_eur MODIFY total_amount_eur DECIMAL(38,2) NOT NULL;

ALTER TABLE fact_payment_method_totals MODIFY total_amount_eur DECIMAL(38,2) NOT NULL;

ALTER TABLE fact_product_purchase_counts MODIFY total_revenue_eur DECIMAL(38,2) NOT NULL;
