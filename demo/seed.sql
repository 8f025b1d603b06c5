-- The quickstart's demo database: Allertify, an allergy-alert app (model: prisma/schema.prisma).
-- Deterministic (setseed), a few thousand rows, with foreign keys, jsonb, timestamptz, numeric,
-- bytea and arrays, so every backup kind has something real to carry.
begin;
select setseed(0.42);

create type severity as enum ('mild', 'moderate', 'severe');

create table users (
  id serial primary key,
  email text not null unique,
  display_name text not null,
  created_at timestamptz(6) not null default now(),
  preferences jsonb not null default '{}',
  avatar bytea
);

create table allergens (
  id serial primary key,
  name text not null unique,
  aliases text[] not null default '{}',
  severity severity not null
);

create table user_allergens (
  user_id integer not null references users(id) on delete cascade,
  allergen_id integer not null references allergens(id) on delete cascade,
  noted_at timestamptz(6) not null default now(),
  primary key (user_id, allergen_id)
);

create table products (
  id serial primary key,
  barcode text not null unique,
  name text not null,
  brand text,
  price numeric(10,2) not null,
  nutrition jsonb,
  updated_at timestamptz(6) not null default now()
);

create table ingredients (
  id serial primary key,
  product_id integer not null references products(id) on delete cascade,
  name text not null,
  position integer not null,
  allergen_id integer references allergens(id)
);
create index ingredients_product_idx on ingredients(product_id);

create table alerts (
  id bigserial primary key,
  user_id integer not null references users(id) on delete cascade,
  product_id integer not null references products(id),
  allergen_id integer not null references allergens(id),
  message text not null,
  created_at timestamptz(6) not null default now(),
  acknowledged_at timestamptz(6)
);
create index alerts_user_idx on alerts(user_id, created_at);

insert into allergens (name, aliases, severity) values
  ('peanut', '{groundnut,"arachis oil"}', 'severe'),
  ('tree nuts', '{almond,cashew,walnut,hazelnut}', 'severe'),
  ('milk', '{lactose,casein,whey}', 'moderate'),
  ('egg', '{albumin,ovalbumin}', 'moderate'),
  ('wheat', '{gluten,spelt,durum}', 'moderate'),
  ('soy', '{soya,edamame,tofu}', 'mild'),
  ('fish', '{anchovy,cod,salmon}', 'severe'),
  ('shellfish', '{shrimp,crab,lobster}', 'severe'),
  ('sesame', '{tahini,benne}', 'severe'),
  ('mustard', '{}', 'mild'),
  ('celery', '{celeriac}', 'mild'),
  ('lupin', '{lupine}', 'moderate'),
  ('sulphites', '{"sulfur dioxide",E220}', 'mild'),
  ('molluscs', '{squid,mussel,oyster}', 'moderate');

insert into users (email, display_name, created_at, preferences, avatar)
select format('user%s@allertify.example', g),
       (array['Ayu','Budi','Citra','Dewi','Eko','Fajar','Gita','Hadi','Indah','Joko'])[1 + g % 10] || ' ' || g,
       timestamptz '2025-06-01 08:00:00+07' + (g || ' hours')::interval,
       jsonb_build_object('notify', g % 3 <> 0, 'language', (array['id','en','nl'])[1 + g % 3], 'quietHours', jsonb_build_array(22, 7)),
       case when g % 5 = 0 then decode(md5(g::text), 'hex') end
from generate_series(1, 500) as g;

insert into user_allergens (user_id, allergen_id, noted_at)
select u, a, timestamptz '2025-07-01 00:00:00+00' + ((u * 7 + a) || ' minutes')::interval
from generate_series(1, 500) as u
cross join generate_series(1, 14) as a
where (u * 31 + a * 17) % 9 = 0;

insert into products (barcode, name, brand, price, nutrition, updated_at)
select lpad((8990000000000 + g)::text, 13, '0'),
       (array['Crackers','Chocolate bar','Instant noodles','Soy sauce','Peanut butter','Granola','Fish crackers','Sesame oil','Milk tea','Bread'])[1 + g % 10] || ' #' || g,
       (array['Nusantara Foods','Sari Rasa','Dapur Kita', null])[1 + g % 4],
       round((random() * 150000 + 2500)::numeric / 100, 2),
       case when g % 7 <> 0 then jsonb_build_object('kcal', 50 + g % 450, 'sugar_g', round((random() * 40)::numeric, 1), 'per', '100g') end,
       timestamptz '2025-08-01 00:00:00+00' + (g || ' minutes')::interval
from generate_series(1, 1200) as g;

insert into ingredients (product_id, name, position, allergen_id)
select p, (array['flour','sugar','salt','palm oil','water','peanuts','milk powder','egg','soy lecithin','sesame seeds','anchovy extract','wheat starch'])[1 + (p * 3 + i) % 12],
       i,
       case (p * 3 + i) % 12 when 5 then 1 when 6 then 3 when 7 then 4 when 8 then 6 when 9 then 9 when 10 then 7 when 11 then 5 when 0 then 5 end
from generate_series(1, 1200) as p
cross join generate_series(1, 4) as i;

insert into alerts (user_id, product_id, allergen_id, message, created_at, acknowledged_at)
select ua.user_id, i.product_id, ua.allergen_id,
       format('Product %s contains %s', i.product_id, a.name),
       timestamptz '2025-09-01 00:00:00+00' + ((ua.user_id * 13 + i.product_id) % 40000 || ' minutes')::interval,
       case when (ua.user_id + i.product_id) % 3 = 0 then timestamptz '2025-10-01 00:00:00+00' end
from user_allergens ua
join ingredients i on i.allergen_id = ua.allergen_id and (i.product_id + ua.user_id) % 50 = 0
join allergens a on a.id = ua.allergen_id;

commit;
